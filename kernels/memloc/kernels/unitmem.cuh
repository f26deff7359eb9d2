#pragma once

// UnitMem and ClassMem state kernels: adding a chunk of μ totals to the state and the
// per-unit statistics of finalize. Floating-point sums are added in an order fixed by the
// shapes alone (a thread per unit over rows or row segments, segments in order), so they do
// not depend on scheduling; only exact operations (integer counts, max of packed keys) use
// atomics. Registration of rows and state merges are shared by every accumulator
// (registration.cuh, state_merge.cuh).

#include <cstdint>

#include "memloc/detail/formulas.hpp"
#include "memloc/detail/unit_outputs.hpp"
#include "memloc/kernels/common.cuh"
#include "memloc/kernels/index_list.cuh"
#include "memloc/kernels/registration.cuh"
#include "memloc/kernels/shared_memory.cuh"

namespace memloc::kernels {

// Kernels without a type parameter are templates all the same, so that this header can
// define them in every translation unit that includes it.

// per_unit storage, first pass: the rows of a chunk are cut into `segments` contiguous
// segments; thread (u, segment) adds its rows' μ in order into partials[segment * units + u]
// and merges its packed (μ, id) maximum into keys[u] with atomicMax, which is exact and so
// independent of order. The segment count is fixed per chunk size, so sums are reproducible.
template <int = 0>
__global__ void add_rows_per_unit(const double* __restrict__ totals, index_t rows, index_t units, index_t elements,
                                  index_list ids, index_t id_space, index_t segments, double* __restrict__ partials,
                                  unsigned long long* __restrict__ keys) {
  const index_t segment = blockIdx.y;
  const index_t length = (rows + segments - 1) / segments;
  const index_t first = segment * length;
  const index_t last = first + length < rows ? first + length : rows;
  for (const index_t u : grid_stride_range(units)) {
    double sum = 0.0;
    std::uint64_t key = detail::empty_max_key;
    for (index_t b = first; b < last; ++b) {
      if (!ids.in_range(b, id_space)) continue;
      const index_t id = ids(b);
      const float mu = detail::mu_from_total(totals[b * units + u], elements);
      sum += static_cast<double>(mu);
      const std::uint64_t candidate = detail::pack_max_key(mu, id);
      if (candidate > key) key = candidate;
    }
    partials[segment * units + u] = sum;
    if (key != detail::empty_max_key) atomicMax(keys + u, static_cast<unsigned long long>(key));
  }
}

// per_unit storage, second pass: the segments' partial sums, added in segment order.
template <int = 0>
__global__ void add_partials(const double* __restrict__ partials, index_t segments, index_t units,
                             double* __restrict__ sums) {
  for (const index_t u : grid_stride_range(units)) {
    double sum = sums[u];
    for (index_t segment = 0; segment < segments; ++segment) sum += partials[segment * units + u];
    sums[u] = sum;
  }
}

// per_sample storage: activation sums per (sample, unit). Ids may repeat within a batch
// (views of one sample in several rows); one thread per unit keeps their order.
template <int = 0>
__global__ void add_rows_per_sample(const double* __restrict__ totals, index_t rows, index_t units, index_list ids,
                                    index_t id_space, double* __restrict__ sums) {
  for (const index_t u : grid_stride_range(units)) {
    for (index_t b = 0; b < rows; ++b) {
      if (!ids.in_range(b, id_space)) continue;
      sums[ids(b) * units + u] += totals[b * units + u];
    }
  }
}

// ClassMem: sums of μ per (class, unit).
template <int = 0>
__global__ void add_rows_per_class(const double* __restrict__ totals, index_t rows, index_t units, index_t elements,
                                   index_list ids, index_list labels, index_t id_space, index_t classes,
                                   double* __restrict__ class_sums) {
  for (const index_t u : grid_stride_range(units)) {
    for (index_t b = 0; b < rows; ++b) {
      if (!row_accepted(ids, labels, b, id_space, classes)) continue;
      const float mu = detail::mu_from_total(totals[b * units + u], elements);
      class_sums[labels(b) * units + u] += static_cast<double>(mu);
    }
  }
}

// ClassMem with few classes, first pass: rows cut into segments as for per_unit storage;
// thread (u, segment) keeps its unit's class sums in its own column of shared memory
// (indexed by label, which registers cannot be), then writes them to
// partials[(segment * classes + c) * units + u]. No thread reads another's column, so no
// barrier is needed.
template <int = 0>
__global__ void add_rows_per_class_privately(const double* __restrict__ totals, index_t rows, index_t units,
                                             index_t elements, index_list ids, index_list labels,
                                             index_t id_space, index_t classes, index_t segments,
                                             double* __restrict__ partials) {
  double* const column_sums = dynamic_shared<double>();  // [classes][blockDim.x]
  const index_t u = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (u >= units) return;
  double* mine = column_sums + threadIdx.x;
  for (index_t c = 0; c < classes; ++c) mine[c * blockDim.x] = 0.0;
  const index_t segment = blockIdx.y;
  const index_t length = (rows + segments - 1) / segments;
  const index_t first = segment * length;
  const index_t last = first + length < rows ? first + length : rows;
  for (index_t b = first; b < last; ++b) {
    if (!row_accepted(ids, labels, b, id_space, classes)) continue;
    const float mu = detail::mu_from_total(totals[b * units + u], elements);
    mine[labels(b) * blockDim.x] += static_cast<double>(mu);
  }
  for (index_t c = 0; c < classes; ++c) partials[(segment * classes + c) * units + u] = mine[c * blockDim.x];
}

// Second pass: each (class, unit) adds its segments' partial sums in segment order.
template <int = 0>
__global__ void add_class_partials(const double* __restrict__ partials, index_t segments, index_t classes,
                                   index_t units, double* __restrict__ class_sums) {
  const index_t cells = classes * units;
  for (const index_t i : grid_stride_range(cells)) {
    double sum = class_sums[i];
    for (index_t segment = 0; segment < segments; ++segment) sum += partials[segment * cells + i];
    class_sums[i] = sum;
  }
}

using detail::unit_outputs;

// Writes one unit's results; counters[0] counts NaN units, counters[1] NaN units with a
// negative denominator.
__device__ inline void write_unit(const unit_outputs& out, index_t u, double top, std::int64_t top_id, double rest,
                                  unsigned long long* counters) {
  const detail::selectivity s = detail::write_unit(out, u, top, top_id, rest);
  if (s.value != s.value) atomicAdd(counters, 1ull);
  if (s.negative_denominator) atomicAdd(counters + 1, 1ull);
}

template <int = 0>
__global__ void finalize_per_unit(const double* __restrict__ sums, const std::uint64_t* __restrict__ keys,
                                         index_t units, index_t samples, unit_outputs out,
                                         unsigned long long* counters) {
  for (const index_t u : grid_stride_range(units)) {
    const double top = detail::key_value(keys[u]);
    write_unit(out, u, top, detail::key_id(keys[u]), detail::mean_of_others(sums[u], top, samples), counters);
  }
}

// per_sample storage, first pass of finalize: the id space is cut into `segments`; thread
// (u, segment) adds the μ of its folded ids in id order into partials[segment * units + u]
// and merges their packed maximum into keys[u] (zeroed by the caller).
template <int = 0>
__global__ void column_partials(const double* __restrict__ sums, const std::int64_t* __restrict__ views,
                                index_t id_space, index_t units, index_t elements, index_t segments,
                                double* __restrict__ partials, unsigned long long* __restrict__ keys) {
  const index_t length = (id_space + segments - 1) / segments;
  const index_t first = static_cast<index_t>(blockIdx.y) * length;
  const index_t last = first + length < id_space ? first + length : id_space;
  for (const index_t u : grid_stride_range(units)) {
    double sum = 0.0;
    std::uint64_t key = detail::empty_max_key;
    for (index_t id = first; id < last; ++id) {
      if (views[id] == 0) continue;
      const float mu = detail::mu_from_total(sums[id * units + u], elements);
      sum += static_cast<double>(mu);
      const std::uint64_t candidate = detail::pack_max_key(mu, id);
      if (candidate > key) key = candidate;
    }
    partials[static_cast<index_t>(blockIdx.y) * units + u] = sum;
    if (key != detail::empty_max_key) atomicMax(keys + u, static_cast<unsigned long long>(key));
  }
}

// per_sample storage, mean of the others: the partial sums in segment order.
template <int = 0>
__global__ void finalize_per_sample_mean(const double* __restrict__ partials, index_t segments,
                                         const unsigned long long* __restrict__ keys, index_t units, index_t samples,
                                         unit_outputs out, unsigned long long* counters) {
  for (const index_t u : grid_stride_range(units)) {
    double sum = 0.0;
    for (index_t segment = 0; segment < segments; ++segment) sum += partials[segment * units + u];
    const double top = detail::key_value(keys[u]);
    write_unit(out, u, top, detail::key_id(keys[u]), detail::mean_of_others(sum, top, samples), counters);
  }
}

// The rank-th smallest (0-based) μ of a unit among the folded ids other than `skipped`, by
// a most-significant-digit radix selection: four passes of 8 bits, each counting the
// candidates that share the digits chosen so far. Needs no copy and no sort of the column.
__device__ inline float select_rank(const double* __restrict__ sums, const std::int64_t* __restrict__ views,
                                    index_t id_space, index_t units, index_t elements, index_t u, index_t skipped,
                                    unsigned long long rank, unsigned long long* histogram, std::uint32_t* chosen) {
  std::uint32_t prefix = 0, mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (const index_t d : block_stride_range(256)) histogram[d] = 0;
    __syncthreads();
    for (const index_t id : block_stride_range(id_space)) {
      if (id == skipped || views[id] == 0) continue;
      const std::uint32_t bits = detail::selection_bits(detail::mu_from_total(sums[id * units + u], elements));
      if ((bits & mask) == prefix) atomicAdd(histogram + ((bits >> shift) & 0xffu), 1ull);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      *chosen = detail::digit_holding_rank([&](std::uint32_t d) { return histogram[d]; }, 256u, rank);
    }
    __syncthreads();
    prefix |= *chosen << shift;
    mask |= 0xffu << shift;
    __syncthreads();  // *chosen is rewritten by the next pass
  }
  return detail::value_from_order_preserving_bits(prefix);
}

// per_sample storage, median of the others: a block per unit. The maximum comes from the
// packed keys of column_partials (first id on ties, a NaN wins), then the median of the
// remaining samples by radix selection (the mean of the two middle values for an even
// count, as numpy does).
template <int = 0>
__global__ void finalize_per_sample_median(const double* __restrict__ sums, const std::int64_t* __restrict__ views,
                                           const unsigned long long* __restrict__ keys, index_t id_space, index_t units,
                                           index_t elements, index_t samples, unit_outputs out,
                                           unsigned long long* counters) {
  struct histogram_tag;
  struct chosen_tag;
  unsigned long long* const histogram = static_shared<unsigned long long[256], histogram_tag>();
  std::uint32_t& chosen = static_shared<std::uint32_t, chosen_tag>();
  for (const index_t u : grid_blocks_range(units)) {
    const std::uint64_t key = keys[u];
    const float top = detail::key_value(key);
    const std::int64_t top_id = detail::key_id(key);
    double rest = static_cast<double>(NAN);
    if (top == top) {
      const auto others = static_cast<unsigned long long>(samples - 1);
      const double upper = select_rank(sums, views, id_space, units, elements, u, top_id, others / 2, histogram, &chosen);
      rest = upper;
      if (others % 2 == 0) {
        const double lower =
            select_rank(sums, views, id_space, units, elements, u, top_id, others / 2 - 1, histogram, &chosen);
        rest = detail::middle_mean(lower, upper);
      }
    }
    if (threadIdx.x == 0) write_unit(out, u, top, top_id, rest, counters);
  }
}

// ClassMem finalize: one thread per unit over the classes.
template <int = 0>
__global__ void finalize_classes(const double* __restrict__ class_sums, const long long* __restrict__ class_counts,
                                        index_t classes, index_t units, index_t present, unit_outputs out,
                                        unsigned long long* counters) {
  for (const index_t u : grid_stride_range(units)) {
    const detail::class_top_and_rest r = detail::class_means_top_and_rest(
        classes, present, [&](std::int64_t c) { return class_sums[c * units + u]; },
        [&](std::int64_t c) { return static_cast<std::int64_t>(class_counts[c]); });
    write_unit(out, u, r.top, r.top_class, r.rest, counters);
  }
}

}  // namespace memloc::kernels
