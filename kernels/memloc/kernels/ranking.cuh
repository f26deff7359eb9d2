#pragma once

// Sort keys of a ranking by score (detail::ranking_key) beside the indices they rank.

#include <cstdint>

#include "memloc/detail/ranking.hpp"
#include "memloc/kernels/common.cuh"

namespace memloc::kernels {

template <class Index>
__global__ void ranking_keys(const double* scores, index_t stride, index_t n, bool descending, std::uint64_t* keys,
                             Index* indices) {
  for (const index_t i : grid_stride_range(n)) {
    keys[i] = detail::ranking_key(scores[i * stride], descending);
    indices[i] = static_cast<Index>(i);
  }
}

}  // namespace memloc::kernels
