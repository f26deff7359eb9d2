#pragma once

// The per-unit outputs of UnitMem and ClassMem as raw pointers (optional ones null), and
// the one function that writes a unit's results, for the host loops and the device kernels
// alike. Each caller tallies the returned policy cases its own way (plain counters on the
// host, atomics on the device).

#include <cstdint>

#include "../types.hpp"
#include "formulas.hpp"

namespace memloc::detail {

struct unit_outputs {
  double* unitmem;
  double* mu_max;
  std::int64_t* argmax;
  double* mu_rest;
};

MEMLOC_HD inline selectivity write_unit(const unit_outputs& out, std::int64_t u, double top, std::int64_t top_id,
                                        double rest) noexcept {
  const selectivity s = selectivity_index(top, rest);
  out.unitmem[u] = s.value;
  if (out.mu_max) out.mu_max[u] = top;
  if (out.argmax) out.argmax[u] = top_id;
  if (out.mu_rest) out.mu_rest[u] = rest;
  return s;
}

}  // namespace memloc::detail
