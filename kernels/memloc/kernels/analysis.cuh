#pragma once

// Small device helpers of the analysis functions on device scores.

#include <cstdint>

#include "memloc/kernels/common.cuh"

namespace memloc::kernels {

// Strided float or double scores as contiguous fp64.
template <class T>
__global__ void scores_to_doubles(const T* __restrict__ scores, index_t stride, index_t n, double* __restrict__ out) {
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    out[i] = static_cast<double>(scores[i * stride]);
  }
}

// A strided device vector packed contiguously, so it comes back in one linear copy.
template <class T>
__global__ void gather(const T* __restrict__ in, index_t stride, index_t n, T* __restrict__ out) {
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) out[i] = in[i * stride];
}

template <int = 0>
__global__ void count_nan(const double* __restrict__ values, index_t n, unsigned long long* count) {
  unsigned long long mine = 0;
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    mine += values[i] != values[i];
  }
  if (mine) atomicAdd(count, mine);
}

}  // namespace memloc::kernels
