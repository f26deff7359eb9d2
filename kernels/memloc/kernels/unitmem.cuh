#pragma once

// UnitMem and ClassMem state kernels: registering a batch's rows (ids checked on the
// device, fold counts), adding a chunk of μ totals to the state, checking the fold counts,
// and the per-unit statistics of finalize. Floating-point sums are added in an order fixed
// by the shapes alone (a thread per unit over rows or row segments, segments in order), so
// they do not depend on scheduling; only exact operations (integer counts, max of packed
// keys) use atomics.

#include <cstdint>

#include "memloc/detail/formulas.hpp"
#include "memloc/kernels/common.cuh"

namespace memloc::kernels {

// Kernels without a type parameter are templates all the same, so that this header can
// define them in every translation unit that includes it.

using detail::cuda::input_problem;
using detail::cuda::status_record;

// Strided device ids or labels of any integer type.
template <class I>
struct index_list {
  const I* data;
  index_t stride;
  __device__ I operator()(index_t i) const { return data[i * stride]; }
};

// Adds `increment` to counts[id] for each row whose id is in range; records the first row
// whose id or label is not. Labels are optional (data == nullptr); with labels,
// class_counts[label] counts the rows of each class.
template <class Count, class I, class L>
__global__ void register_rows(index_list<I> ids, index_list<L> labels, index_t rows, index_t id_space, index_t classes,
                              long long batch, Count* counts, Count increment, long long* class_counts,
                              status_record* status) {
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t b = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; b < rows; b += step) {
    const I id = ids(b);
    if (!index_in_range(id, id_space)) {
      note_bad_row(status, batch, false, b);
      continue;
    }
    if (labels.data) {
      const L label = labels(b);
      if (!index_in_range(label, classes)) {
        note_bad_row(status, batch, true, b);
        continue;
      }
      atomicAdd(reinterpret_cast<unsigned long long*>(class_counts) + label, 1ull);
    }
    if constexpr (sizeof(Count) == 8) {
      atomicAdd(reinterpret_cast<unsigned long long*>(counts) + id, static_cast<unsigned long long>(increment));
    } else {
      atomicAdd(counts + id, increment);
    }
  }
}

// Turns the first bad row of this batch, if it is the first of all, into the status record,
// reading its id or label while the batch is still alive. One thread.
template <class I, class L>
__global__ void describe_bad_row(index_list<I> ids, index_list<L> labels, index_t id_space, index_t classes,
                                 long long batch, status_record* status) {
  const unsigned long long complement = status->first_bad_row_complement;
  if (status->problem != 0 || complement == 0) return;
  const unsigned long long key = ~complement;
  if (static_cast<long long>(key >> 34) != batch) return;
  const bool is_label = ((key >> 33) & 1u) != 0;
  const auto row = static_cast<index_t>(key & ((1ull << 33) - 1));
  status->problem = static_cast<int>(is_label ? input_problem::label_out_of_range : input_problem::sample_id_out_of_range);
  status->batch = batch;
  status->position = row;
  status->bound = is_label ? classes : id_space;
  status->value = is_label ? static_cast<long long>(labels(row)) : static_cast<long long>(ids(row));
  // describe() prints the value unsigned when it came from an unsigned type, as the host does.
  status->argument = (is_label ? std::is_unsigned_v<L> : std::is_unsigned_v<I>) ? 1 : 0;
}

// A row takes part in the state only if register_rows accepted it.
template <class I, class L>
__device__ inline bool row_accepted(index_list<I> ids, index_list<L> labels, index_t b, index_t id_space,
                                    index_t classes) {
  if (!index_in_range(ids(b), id_space)) return false;
  return labels.data == nullptr || index_in_range(labels(b), classes);
}

// per_unit storage, first pass: the rows of a chunk are cut into `segments` contiguous
// segments; thread (u, segment) adds its rows' μ in order into partials[segment * units + u]
// and merges its packed (μ, id) maximum into keys[u] with atomicMax, which is exact and so
// independent of order. The segment count is fixed per chunk size, so sums are reproducible.
template <class I>
__global__ void add_rows_per_unit(const double* __restrict__ totals, index_t rows, index_t units, index_t elements,
                                  index_list<I> ids, index_t id_space, index_t segments, double* __restrict__ partials,
                                  unsigned long long* __restrict__ keys) {
  const index_t segment = blockIdx.y;
  const index_t length = (rows + segments - 1) / segments;
  const index_t first = segment * length;
  const index_t last = first + length < rows ? first + length : rows;
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t u = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < units; u += step) {
    double sum = 0.0;
    std::uint64_t key = detail::empty_max_key;
    for (index_t b = first; b < last; ++b) {
      const I id = ids(b);
      if (!index_in_range(id, id_space)) continue;
      const float mu = detail::mu_from_total(totals[b * units + u], elements);
      sum += static_cast<double>(mu);
      const std::uint64_t candidate = detail::pack_max_key(mu, static_cast<std::int64_t>(id));
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
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t u = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < units; u += step) {
    double sum = sums[u];
    for (index_t segment = 0; segment < segments; ++segment) sum += partials[segment * units + u];
    sums[u] = sum;
  }
}

// per_sample storage: activation sums per (sample, unit). Ids may repeat within a batch
// (views of one sample in several rows); one thread per unit keeps their order.
template <class I>
__global__ void add_rows_per_sample(const double* __restrict__ totals, index_t rows, index_t units, index_list<I> ids,
                                    index_t id_space, double* __restrict__ sums) {
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t u = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < units; u += step) {
    for (index_t b = 0; b < rows; ++b) {
      const I id = ids(b);
      if (!index_in_range(id, id_space)) continue;
      sums[static_cast<index_t>(id) * units + u] += totals[b * units + u];
    }
  }
}

// ClassMem: sums of μ per (class, unit).
template <class I, class L>
__global__ void add_rows_per_class(const double* __restrict__ totals, index_t rows, index_t units, index_t elements,
                                   index_list<I> ids, index_list<L> labels, index_t id_space, index_t classes,
                                   double* __restrict__ class_sums) {
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t u = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < units; u += step) {
    for (index_t b = 0; b < rows; ++b) {
      if (!row_accepted(ids, labels, b, id_space, classes)) continue;
      const float mu = detail::mu_from_total(totals[b * units + u], elements);
      class_sums[static_cast<index_t>(labels(b)) * units + u] += static_cast<double>(mu);
    }
  }
}

// ClassMem with few classes, first pass: rows cut into segments as for per_unit storage;
// thread (u, segment) keeps its unit's class sums in its own column of shared memory
// (indexed by label, which registers cannot be), then writes them to
// partials[(segment * classes + c) * units + u]. No thread reads another's column, so no
// barrier is needed.
template <class I, class L>
__global__ void add_rows_per_class_privately(const double* __restrict__ totals, index_t rows, index_t units,
                                             index_t elements, index_list<I> ids, index_list<L> labels,
                                             index_t id_space, index_t classes, index_t segments,
                                             double* __restrict__ partials) {
  extern __shared__ double column_sums[];  // [classes][blockDim.x]
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
    mine[static_cast<index_t>(labels(b)) * blockDim.x] += static_cast<double>(mu);
  }
  for (index_t c = 0; c < classes; ++c) partials[(segment * classes + c) * units + u] = mine[c * blockDim.x];
}

// Second pass: each (class, unit) adds its segments' partial sums in segment order.
template <int = 0>
__global__ void add_class_partials(const double* __restrict__ partials, index_t segments, index_t classes,
                                   index_t units, double* __restrict__ class_sums) {
  const index_t cells = classes * units;
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < cells; i += step) {
    double sum = class_sums[i];
    for (index_t segment = 0; segment < segments; ++segment) sum += partials[segment * cells + i];
    class_sums[i] = sum;
  }
}

// Element-wise merges of two states.
template <class T>
__global__ void add_into(T* __restrict__ mine, const T* __restrict__ theirs, index_t n) {
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) mine[i] += theirs[i];
}

template <int = 0>
__global__ void max_into(std::uint64_t* __restrict__ mine, const std::uint64_t* __restrict__ theirs, index_t n) {
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    if (theirs[i] > mine[i]) mine[i] = theirs[i];
  }
}

// What finalize and merge need to know about per-id counts (fold counts or view counts),
// gathered in one pass. Ids are reported smallest first, as the host reports them.
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
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t id = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; id < id_space; id += step) {
    const Count c = counts[id];
    distinct += c != 0;
    if (c > limit) atomicMin(&summary->first_over, static_cast<long long>(id));
    if (c > 0 && c < expected) atomicMin(&summary->first_partial, static_cast<long long>(id));
    // Shared only when both hold the id: a count over the limit in one state alone is
    // that state's own problem, which its finalize reports.
    const Count o = other ? other[id] : Count(0);
    if (c != 0 && o != 0 && c + o > limit) atomicMin(&summary->first_shared, static_cast<long long>(id));
  }
  if (distinct) atomicAdd(&summary->distinct, distinct);
}

struct unit_outputs {
  double* unitmem;
  double* mu_max;
  std::int64_t* argmax;
  double* mu_rest;
};

// counters[0]: NaN units, counters[1]: NaN units with a negative denominator.
__device__ inline void write_unit(const unit_outputs& out, index_t u, double top, std::int64_t top_id, double rest,
                                  unsigned long long* counters) {
  const detail::selectivity s = detail::selectivity_index(top, rest);
  out.unitmem[u] = s.value;
  if (out.mu_max) out.mu_max[u] = top;
  if (out.argmax) out.argmax[u] = top_id;
  if (out.mu_rest) out.mu_rest[u] = rest;
  if (s.value != s.value) atomicAdd(counters, 1ull);
  if (s.negative_denominator) atomicAdd(counters + 1, 1ull);
}

template <int = 0>
__global__ void finalize_per_unit(const double* __restrict__ sums, const std::uint64_t* __restrict__ keys,
                                         index_t units, index_t samples, unit_outputs out,
                                         unsigned long long* counters) {
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t u = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < units; u += step) {
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
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t u = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < units; u += step) {
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
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t u = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < units; u += step) {
    double sum = 0.0;
    for (index_t segment = 0; segment < segments; ++segment) sum += partials[segment * units + u];
    const double top = detail::key_value(keys[u]);
    write_unit(out, u, top, detail::key_id(keys[u]), detail::mean_of_others(sum, top, samples), counters);
  }
}

// The order-preserving bits of μ with -0 folded into +0, so equal values are one digit path.
__device__ inline std::uint32_t selection_bits(float mu) {
  return detail::order_preserving_bits(mu + 0.0f);
}

// The rank-th smallest (0-based) μ of a unit among the folded ids other than `skipped`, by
// a most-significant-digit radix selection: four passes of 8 bits, each counting the
// candidates that share the digits chosen so far. Needs no copy and no sort of the column.
__device__ inline float select_rank(const double* __restrict__ sums, const std::int64_t* __restrict__ views,
                                    index_t id_space, index_t units, index_t elements, index_t u, index_t skipped,
                                    unsigned long long rank, unsigned long long* histogram, std::uint32_t* chosen) {
  std::uint32_t prefix = 0, mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int d = static_cast<int>(threadIdx.x); d < 256; d += blockDim.x) histogram[d] = 0;
    __syncthreads();
    for (index_t id = threadIdx.x; id < id_space; id += blockDim.x) {
      if (id == skipped || views[id] == 0) continue;
      const std::uint32_t bits = selection_bits(detail::mu_from_total(sums[id * units + u], elements));
      if ((bits & mask) == prefix) atomicAdd(histogram + ((bits >> shift) & 0xffu), 1ull);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      unsigned long long below = 0;
      std::uint32_t digit = 0;
      for (; digit < 255u; ++digit) {
        if (below + histogram[digit] > rank) break;
        below += histogram[digit];
      }
      rank -= below;
      *chosen = digit;
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
  __shared__ unsigned long long histogram[256];
  __shared__ std::uint32_t chosen;
  for (index_t u = blockIdx.x; u < units; u += gridDim.x) {
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
        rest = 0.5 * (lower + upper);
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
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t u = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < units; u += step) {
    const detail::class_top_and_rest r = detail::class_means_top_and_rest(
        classes, present, [&](std::int64_t c) { return class_sums[c * units + u]; },
        [&](std::int64_t c) { return static_cast<std::int64_t>(class_counts[c]); });
    write_unit(out, u, r.top, r.top_class, r.rest, counters);
  }
}

}  // namespace memloc::kernels
