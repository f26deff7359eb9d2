#pragma once

// Small device helpers of the analysis functions on device scores.

#include <cstdint>

#include "memloc/kernels/common.cuh"

namespace memloc::kernels {

// Strided float or double scores as contiguous fp64.
template <class T>
__global__ void scores_to_doubles(const T* __restrict__ scores, index_t stride, index_t n, double* __restrict__ out) {
  for (const index_t i : grid_stride_range(n)) {
    out[i] = static_cast<double>(scores[i * stride]);
  }
}

// A strided device vector packed contiguously, so it comes back in one linear copy.
template <class T>
__global__ void gather(const T* __restrict__ in, index_t stride, index_t n, T* __restrict__ out) {
  for (const index_t i : grid_stride_range(n)) out[i] = in[i * stride];
}

template <int = 0>
__global__ void count_nan(const double* __restrict__ values, index_t n, unsigned long long* count) {
  unsigned long long mine = 0;
  for (const index_t i : grid_stride_range(n)) {
    mine += values[i] != values[i];
  }
  if (mine) atomicAdd(count, mine);
}

}  // namespace memloc::kernels
