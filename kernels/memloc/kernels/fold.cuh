#pragma once

// The μ fold on the device: totals[b * units + u] = the sum of the transformed activations
// of batch row b and unit u over its views and positions. Each total is reduced by a fixed
// set of threads in a fixed order, so totals are the same run to run.

#include <cstdint>
#include <cstring>

#include "memloc/detail/formulas.hpp"
#include "memloc/types.hpp"
#include "memloc/view.hpp"
#include "memloc/kernels/common.cuh"

namespace memloc::kernels {

// The rows of a batch that one launch folds: [rows, views, units, positions].
template <class T>
using fold_rows = activations_view<const T, device_space>;

// Elements of T in one 16-byte load.
template <class T>
inline constexpr int pack_elements = static_cast<int>(16 / sizeof(T));

// Sum of the transformed elements of one 16-byte aligned pack.
template <class Op, class W, class T>
__device__ inline W pack_sum(const T* p) {
  const uint4 raw = load_vector<uint4>(p);
  T elements[pack_elements<T>];
  // T is trivially copyable, but memloc::half and bfloat16 have a default member initialiser,
  // which GCC counts as non-trivial for -Wclass-memaccess.
  memcpy(static_cast<void*>(elements), &raw, sizeof raw);
  W sum = W(0);
#pragma unroll
  for (int i = 0; i < pack_elements<T>; ++i) sum += Op::apply(load_as<W>(elements[i]));
  return sum;
}

// Units contiguous (token-major [N, V, S, U] and dense layers): one thread per (row, unit),
// so a warp reads 32 neighbouring units of one position at a time. Four accumulators
// break the dependency chain over positions.
template <class Op, class T>
__global__ void fold_units_contiguous(fold_rows<T> batch, double* __restrict__ totals) {
  using W = working_t<T>;
  const index_t views = batch.extent(1), units = batch.extent(2), positions = batch.extent(3);
  const index_t position_stride = batch.stride(3);
  // A view's handle carries no aliasing promise; on this pointer __restrict__ says nothing
  // here writes the activations, which lets nvcc use the read-only data path.
  const T* __restrict__ data = batch.data_handle();
  for (const index_t i : grid_stride_range(batch.extent(0) * units)) {
    const index_t b = i / units, u = i % units;
    const T* unit = data + b * batch.stride(0) + u;
    W lanes[4] = {W(0), W(0), W(0), W(0)};
    for (index_t v = 0; v < views; ++v) {
      const T* view = unit + v * batch.stride(1);
      index_t s = 0;
      for (; s + 4 <= positions; s += 4) {
#pragma unroll
        for (int l = 0; l < 4; ++l) lanes[l] += Op::apply(load_as<W>(view[(s + l) * position_stride]));
      }
      for (; s < positions; ++s) lanes[0] += Op::apply(load_as<W>(view[s * position_stride]));
    }
    totals[i] = static_cast<double>((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]));
  }
}

// Any other layout: a group of Width lanes per (row, unit), the lanes striding over the
// positions (coalesced when positions are contiguous, as in NCHW) and looping over views.
// With Packed, positions are read 16 bytes at a time (the caller checked alignment). Groups
// of a warp walk the (row, unit) pairs together, so every lane reaches the shuffles.
template <class Op, int Width, bool Packed, class T>
__global__ void fold_position_groups(fold_rows<T> batch, double* __restrict__ totals) {
  using W = working_t<T>;
  constexpr int groups_per_warp = warp_size / Width;
  const index_t views = batch.extent(1), units = batch.extent(2), positions = batch.extent(3);
  const index_t pairs = batch.extent(0) * units;
  const int lane = static_cast<int>(threadIdx.x) % Width;
  const index_t thread = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const index_t first_group_of_warp = (thread / warp_size) * groups_per_warp;
  const index_t group_in_warp = (thread % warp_size) / Width;
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x / Width;
  const index_t steps = Packed ? positions / pack_elements<T> : positions;
  const T* __restrict__ data = batch.data_handle();  // read only, as in fold_units_contiguous
  for (const index_t warp_pair : strided_range(first_group_of_warp, pairs, step)) {
    const index_t pair = warp_pair + group_in_warp;
    W sum = W(0);
    if (pair < pairs) {
      const index_t b = pair / units, u = pair % units;
      const T* unit = data + b * batch.stride(0) + u * batch.stride(2);
      for (index_t v = 0; v < views; ++v) {
        const T* view = unit + v * batch.stride(1);
        for (const index_t s : strided_range(lane, steps, Width)) {
          if constexpr (Packed) {
            sum += pack_sum<Op, W>(view + s * pack_elements<T>);
          } else {
            sum += Op::apply(load_as<W>(view[s * batch.stride(3)]));
          }
        }
      }
    }
    sum = group_sum<Width>(sum);
    if (pair < pairs && lane == 0) totals[pair] = static_cast<double>(sum);
  }
}

// Where add_rows_per_unit reads a batch's totals, in two steps so that a thread can start
// several rows' loads before it waits on any: fetch(b, u) loads the totals of units u to
// u + units_per_thread - 1 of row b, total(fetched, k) gives the k-th. From a chunk's scratch
// [rows, units] ...
struct totals_in_scratch {
  using element_type = const void;  // read only (the emulated build's stream check reads this)
  static constexpr int units_per_thread = 1;
  using fetched = double;
  const double* __restrict__ totals;
  index_t units;
  __device__ fetched fetch(index_t b, index_t u) const { return totals[b * units + u]; }
  __device__ double total(fetched t, int) const { return t; }
};

// `Width` consecutive elements of a row, read in one load of 8 or 16 bytes.
template <class T, int Width>
struct element_group {
  T values[Width];
};

template <class T, int Width>
__device__ inline element_group<T, Width> load_group(const T* p) {
  element_group<T, Width> group;
  constexpr std::size_t bytes = sizeof(T) * Width;
  // memcpy, as in pack_sum: memloc::half and bfloat16 have default member initialisers.
  if constexpr (Width == 1) {
    group.values[0] = *p;
  } else if constexpr (bytes == 8) {
    const uint2 raw = load_vector<uint2>(p);
    memcpy(static_cast<void*>(group.values), &raw, sizeof raw);
  } else {
    static_assert(bytes == 16, "a group is 8 or 16 bytes");
    const uint4 raw = load_vector<uint4>(p);
    memcpy(static_cast<void*>(group.values), &raw, sizeof raw);
  }
  return group;
}

// ... or, where a (row, unit) holds one element (one view, one position: μ handed over
// directly), from the batch itself, which saves writing and reading back 8 bytes per
// element of 2, 4 or 8. The total is the fold kernels' for one element: W(0) + the transformed
// element (so -0 becomes +0 as there). With Width > 1 the units are contiguous and each
// row's group of Width units is aligned to its size (the caller checks), so one load brings
// Width units.
template <class Op, class T, int Width>
struct totals_of_elements {
  using element_type = const void;  // read only, as totals_in_scratch
  static constexpr int units_per_thread = Width;
  using fetched = element_group<T, Width>;
  fold_rows<T> batch;
  __device__ fetched fetch(index_t b, index_t u) const {
    return load_group<T, Width>(batch.data_handle() + b * batch.stride(0) + u * batch.stride(2));
  }
  __device__ double total(const fetched& x, int k) const {
    using W = working_t<T>;
    return static_cast<double>(W(0) + Op::apply(load_as<W>(x.values[k])));
  }
};

// Units a thread of the direct read takes in one load where the batch allows it (see
// unitmem_per_unit_state::groups_units): four of 16 or 32 bits (16 or 8 bytes), two of fp64
// (16 bytes; four spilled under the update kernel's 64-register bound).
template <class T>
inline constexpr int grouped_units = sizeof(T) == 8 ? 2 : 4;

}  // namespace memloc::kernels
