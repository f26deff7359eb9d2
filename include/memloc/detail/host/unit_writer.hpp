#pragma once

// The host's tally around detail::write_unit, shared by the UnitMem and ClassMem states so
// that neither includes the other to count policy cases the same way.

#include <cmath>
#include <cstdint>

#include "../../view.hpp"
#include "../formulas.hpp"
#include "../unit_outputs.hpp"

namespace memloc::detail::host {

using detail::unit_outputs;

struct unit_counts {
  index_t nan_units = 0;
  index_t negative_denominator_units = 0;
};

// Writes one unit's results and tallies the policy cases.
inline void write_unit(const unit_outputs& out, index_t u, double top, std::int64_t top_id, double rest,
                       unit_counts& counts) noexcept {
  const selectivity s = detail::write_unit(out, u, top, top_id, rest);
  counts.negative_denominator_units += s.negative_denominator;
  counts.nan_units += std::isnan(s.value);
}

}  // namespace memloc::detail::host
