#pragma once

// Device helpers shared by memloc's kernels: fixed-order reductions (so sums are the same
// run to run), the status record that reports bad input, and launch geometry.

#include <cstdint>

#include <type_traits>

#include "memloc/detail/cuda/runtime.cuh"

namespace memloc::kernels {

using index_t = std::int64_t;

constexpr int warp_size = 32;
constexpr int block_threads = 256;

// Blocks for a grid-stride loop over `work` items: enough to fill the device several times
// over, never more than the grid allows.
inline unsigned grid_for(index_t work, int threads_per_item_group = block_threads) {
  const index_t blocks = (work + threads_per_item_group - 1) / threads_per_item_group;
  const index_t cap = index_t{1} << 20;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

// Sum over the `Width` lanes of an aligned lane group, in a fixed butterfly order; every
// lane of the group gets the total.
template <int Width, class W>
__device__ inline W group_sum(W value) {
#pragma unroll
  for (int offset = Width / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset, Width);
  return value;
}

// Sum over a block of block_threads threads, in a fixed order; the result is valid in
// thread 0. `shared` holds one W per warp.
template <class W>
__device__ inline W block_sum(W value, W* shared) {
  value = group_sum<warp_size>(value);
  const int lane = static_cast<int>(threadIdx.x) % warp_size;
  const int warp = static_cast<int>(threadIdx.x) / warp_size;
  __syncthreads();  // `shared` may still be read by a previous call
  if (lane == 0) shared[warp] = value;
  __syncthreads();
  W total = W(0);
  if (threadIdx.x == 0) {
    for (int w = 0; w < block_threads / warp_size; ++w) total += shared[w];
  }
  return total;
}

// Records the first problem found; later ones are dropped so the report names the first.
__device__ inline void record_problem(detail::cuda::status_record* status, detail::cuda::input_problem problem,
                                      long long batch, long long position, long long value, long long bound,
                                      int argument = 0) {
  if (atomicCAS(&status->problem, 0, static_cast<int>(problem)) == 0) {
    status->batch = batch;
    status->position = position;
    status->value = value;
    status->bound = bound;
    status->argument = argument;
  }
}

// An integer of any type as a sample id or label, checked against [0, bound).
template <class I>
__device__ inline bool index_in_range(I value, index_t bound) {
  if constexpr (std::is_signed_v<I>) {
    if (value < 0) return false;
  }
  return static_cast<unsigned long long>(value) < static_cast<unsigned long long>(bound);
}

// The order in which the host reports bad indices: earlier batches first, within a batch
// every sample id before any label, then by row.
__device__ inline unsigned long long bad_row_key(long long batch, bool is_label, index_t row) {
  return (static_cast<unsigned long long>(batch) << 34) | (static_cast<unsigned long long>(is_label) << 33) |
         static_cast<unsigned long long>(row);
}

// Notes a bad row; the first one in host order wins whatever the scheduling.
__device__ inline void note_bad_row(detail::cuda::status_record* status, long long batch, bool is_label, index_t row) {
  atomicMax(&status->first_bad_row_complement, ~bad_row_key(batch, is_label, row));
}

// A template so that every translation unit may define it.
template <int = 0>
__global__ void fill_sequence(std::int64_t* values, index_t n) {
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) values[i] = i;
}

}  // namespace memloc::kernels
