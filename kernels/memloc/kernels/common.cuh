#pragma once

// Device helpers shared by memloc's kernels: launch geometry and the loops that walk it, and
// fixed-order reductions (so sums are the same run to run).

#include <cstdint>

#include <type_traits>

#include "memloc/detail/formulas.hpp"

namespace memloc::kernels {

using index_t = std::int64_t;

constexpr int warp_size = 32;
constexpr int block_threads = 256;

// The most blocks grid_for gives. On a GPU, enough to fill the device several times over.
// In the emulated CUDA build (tests only) a grid of three blocks, so that at the tests' small
// shapes every grid-stride loop still takes several turns and a kernel that quietly assumed
// one item per thread would miss items and fail.
#if defined(MEMLOC_CUDA_EMULATED)
inline constexpr index_t grid_block_cap = 3;
#else
inline constexpr index_t grid_block_cap = index_t{1} << 20;
#endif

// A vector (uint2, uint4) read from memory known to hold a whole, aligned one. A GPU stops
// the kernel on a misaligned vector load where x86 reads on, so the emulated build checks
// the address: a wrong alignment test in a kernel's caller fails the tests, not only a GPU.
template <class V>
__device__ inline V load_vector(const void* p) {
#if defined(MEMLOC_CUDA_EMULATED)
  ::memloc_emulation::detail::require_load_aligned(p, sizeof(V));
#endif
  return *static_cast<const V*>(p);
}

// Blocks for a grid-stride loop over `work` items, never more than grid_block_cap.
inline unsigned grid_for(index_t work, int threads_per_item_group = block_threads) {
  const index_t blocks = (work + threads_per_item_group - 1) / threads_per_item_group;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > grid_block_cap ? grid_block_cap : blocks));
}

// The indices first, first + step, ... below end, for a range-based for loop.
class strided_range {
 public:
  struct sentinel {};
  class iterator {
   public:
    __device__ iterator(index_t i, index_t step, index_t end) : i_(i), step_(step), end_(end) {}
    __device__ index_t operator*() const { return i_; }
    __device__ iterator& operator++() {
      i_ += step_;
      return *this;
    }
    __device__ bool operator!=(sentinel) const { return i_ < end_; }

   private:
    index_t i_, step_, end_;
  };

  __device__ strided_range(index_t first, index_t end, index_t step) : first_(first), end_(end), step_(step) {}
  __device__ iterator begin() const { return {first_, step_, end_}; }
  __device__ sentinel end() const { return {}; }

 private:
  index_t first_, end_, step_;
};

// The items [0, n) this thread handles when every thread of the grid takes one in turn.
__device__ inline strided_range grid_stride_range(index_t n) {
  return {static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x, n,
          static_cast<index_t>(gridDim.x) * blockDim.x};
}

// The items [0, n) this block handles when every block of the grid takes one in turn.
__device__ inline strided_range grid_blocks_range(index_t n) {
  return {static_cast<index_t>(blockIdx.x), n, static_cast<index_t>(gridDim.x)};
}

// The items [0, n) this thread handles when the threads of its block take one in turn.
__device__ inline strided_range block_stride_range(index_t n) {
  return {static_cast<index_t>(threadIdx.x), n, static_cast<index_t>(blockDim.x)};
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

// Ids 0 .. n - 1. A template so that every translation unit may define it.
template <int = 0>
__global__ void fill_sequence(std::int64_t* values, index_t n) {
  for (const index_t i : grid_stride_range(n)) values[i] = detail::row_sample_id(i);
}

}  // namespace memloc::kernels
