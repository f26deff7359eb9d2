#pragma once

// Which measurement point's scores order the samples when LayerMem averages over the top or
// least of them; the host and CUDA backends both ask here so they rank by the same point.

#include "../options.hpp"
#include "../view.hpp"

namespace memloc::detail {

// rank_point -1 means the last point, so the default follows the list however long it is.
inline index_t rank_point_index(const sample_subset& subset, index_t points) noexcept {
  return subset.rank_point < 0 ? points - 1 : subset.rank_point;
}

}  // namespace memloc::detail
