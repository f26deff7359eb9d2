#pragma once

// Kernels every device accumulator shares to merge states element-wise and to check its
// per-id counts (fold counts or view counts) before a merge or a finalize.

#include <cstdint>

#include "memloc/kernels/common.cuh"

namespace memloc::kernels {

// Element-wise merges of two states.
template <class T>
__global__ void add_into(T* __restrict__ mine, const T* __restrict__ theirs, index_t n) {
  for (const index_t i : grid_stride_range(n)) mine[i] += theirs[i];
}

template <int = 0>
__global__ void max_into(std::uint64_t* __restrict__ mine, const std::uint64_t* __restrict__ theirs, index_t n) {
  for (const index_t i : grid_stride_range(n)) {
    if (theirs[i] > mine[i]) mine[i] = theirs[i];
  }
}

// What finalize and merge need to know about per-id counts, gathered in one pass. Ids are
// reported smallest first, as the host reports them.
struct count_summary {
  unsigned long long distinct;  // ids with a nonzero count
  long long first_over;         // smallest id whose count exceeds `limit` (or id_space)
  long long first_partial;      // smallest id with 0 < count < `expected` (or id_space)
  long long first_shared;       // smallest id whose two counts together exceed `limit` (merge only; or id_space)
};

template <int = 0>
__global__ void start_summary(count_summary* summary, index_t id_space) {
  summary->distinct = 0;
  summary->first_over = summary->first_partial = summary->first_shared = id_space;
}

template <class Count>
__global__ void summarize_counts(const Count* __restrict__ counts, const Count* __restrict__ other, index_t id_space,
                                 Count limit, Count expected, count_summary* summary) {
  unsigned long long distinct = 0;
  for (const index_t id : grid_stride_range(id_space)) {
    const Count c = counts[id];
    distinct += c != 0;
    if (c > limit) atomicMin(&summary->first_over, static_cast<long long>(id));
    if (c > 0 && c < expected) atomicMin(&summary->first_partial, static_cast<long long>(id));
    // Shared only when both hold the id: a count over the limit in one state alone is
    // that state's own problem, which its finalize reports.
    const Count o = other ? other[id] : Count(0);
    if (c != 0 && o != 0 && c + o > limit) atomicMin(&summary->first_shared, static_cast<long long>(id));
  }
  // One atomic per warp, not per id: 50 000 ids each adding to the one counter took 39 µs
  // on the H200 (every thread of the launch reaches this line, so the whole warp shuffles).
  distinct = group_sum<warp_size>(distinct);
  if (distinct && threadIdx.x % warp_size == 0) atomicAdd(&summary->distinct, distinct);
}

}  // namespace memloc::kernels
