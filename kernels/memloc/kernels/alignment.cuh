#pragma once

// Kernels of the alignment accumulator: per-sample distances between views, and the copy of
// the state to the caller's outputs. Fold counts are checked and states merged by the
// kernels every device accumulator shares (unitmem.cuh).

#include <cstdint>
#include <type_traits>

#include "memloc/detail/formulas.hpp"
#include "memloc/kernels/common.cuh"
#include "memloc/options.hpp"
#include "memloc/types.hpp"

namespace memloc::kernels {

// One encoder's batch [samples, views, features] as a kernel argument (views are host
// types whose accessors are not device functions).
template <class T>
struct representation_rows {
  const T* data;
  index_t sample_stride;
  index_t view_stride;
  index_t feature_stride;
};

// Sample ids of any integer type, read by their width and signedness: the kernel is then
// compiled once per pair of element types and distance, not once more per id type.
enum class id_width : int { i8, u8, i16, u16, i32, u32, i64, u64 };

template <class I>
constexpr id_width id_width_of() {
  constexpr bool is_signed = std::is_signed_v<I>;
  if constexpr (sizeof(I) == 1) return is_signed ? id_width::i8 : id_width::u8;
  if constexpr (sizeof(I) == 2) return is_signed ? id_width::i16 : id_width::u16;
  if constexpr (sizeof(I) == 4) return is_signed ? id_width::i32 : id_width::u32;
  return is_signed ? id_width::i64 : id_width::u64;
}

struct any_ids {
  const void* data;
  index_t stride;
  id_width width;

  template <class I>
  static any_ids of(const I* data, index_t stride) {
    static_assert(sizeof(I) <= 8, "sample ids must be at most 64-bit integers");
    return {data, stride, id_width_of<I>()};
  }

  // Id b as a 64-bit value; `negative` if a signed id is below 0 (value then undefined).
  __device__ unsigned long long get(index_t b, bool& negative) const {
    const index_t at = b * stride;
    negative = false;
    auto signed_value = [&](long long v) {
      negative = v < 0;
      return static_cast<unsigned long long>(v);
    };
    switch (width) {
      case id_width::i8: return signed_value(static_cast<const std::int8_t*>(data)[at]);
      case id_width::u8: return static_cast<const std::uint8_t*>(data)[at];
      case id_width::i16: return signed_value(static_cast<const std::int16_t*>(data)[at]);
      case id_width::u16: return static_cast<const std::uint16_t*>(data)[at];
      case id_width::i32: return signed_value(static_cast<const std::int32_t*>(data)[at]);
      case id_width::u32: return static_cast<const std::uint32_t*>(data)[at];
      case id_width::i64: return signed_value(static_cast<const std::int64_t*>(data)[at]);
      case id_width::u64: break;
    }
    return static_cast<const std::uint64_t*>(data)[at];
  }

  __device__ bool is_unsigned() const {
    return width == id_width::u8 || width == id_width::u16 || width == id_width::u32 || width == id_width::u64;
  }
};

// Inverse norms of up to this many views per sample are kept in shared memory; those of
// further views (samples with very many augmentations) are recomputed where they are used.
constexpr int cached_inverse_norms = 64;

struct alignment_shared {
  double partials[block_threads / warp_size];
  double broadcast;
  double inverse_norms[cached_inverse_norms];
};

// block_sum's total handed to every thread of the block.
__device__ inline double block_total(double value, alignment_shared& shared) {
  const double total = block_sum(value, shared.partials);
  if (threadIdx.x == 0) shared.broadcast = total;
  __syncthreads();
  return shared.broadcast;
}

// Features are summed in the working type per thread, then in fp64 across the block in a
// fixed order, so a sample's alignment is the same in every run and in any batch.
template <class W, class T>
__device__ W view_inverse_norm(const T* row, index_t features, index_t stride, alignment_shared& shared) {
  W partial = W(0);
  for (index_t k = threadIdx.x; k < features; k += block_threads) {
    const W x = load_as<W>(row[k * stride]);
    partial += x * x;
  }
  return detail::inverse_norm<W>(block_total(static_cast<double>(partial), shared));
}

// d(a, b) in thread 0 (the other threads return a value without meaning).
template <class Op, class W, class T>
__device__ double pair_distance(const T* a, const T* b, index_t features, index_t stride, W inv_a, W inv_b,
                                alignment_shared& shared) {
  W first = W(0), second = W(0);
  for (index_t k = threadIdx.x; k < features; k += block_threads) {
    const W x = load_as<W>(a[k * stride]);
    const W y = load_as<W>(b[k * stride]);
    first += Op::term(x, y, inv_a, inv_b);
    if constexpr (Op::needs_second_sum) second += Op::second_term(x, y, inv_a, inv_b);
  }
  const double first_total = block_sum(static_cast<double>(first), shared.partials);
  double second_total = 0.0;
  if constexpr (Op::needs_second_sum) second_total = block_sum(static_cast<double>(second), shared.partials);
  return Op::finish(first_total, second_total, inv_a, inv_b);
}

// Sum over the chosen view pairs of sample b's distances, in thread 0, pairs in the host's
// order. Called by the whole block.
template <class Op, class T>
__device__ double sample_pair_total(const representation_rows<T>& rows, index_t b, index_t views, index_t features,
                                    pair_mode pairs, alignment_shared& shared) {
  using W = working_t<T>;
  const T* sample = rows.data + b * rows.sample_stride;
  auto row = [&](index_t v) { return sample + v * rows.view_stride; };
  const index_t cached = views < cached_inverse_norms ? views : index_t{cached_inverse_norms};
  if constexpr (Op::needs_inverse_norms) {
    for (index_t v = 0; v < cached; ++v) {
      const W inv = view_inverse_norm<W>(row(v), features, rows.feature_stride, shared);
      if (threadIdx.x == 0) shared.inverse_norms[v] = static_cast<double>(inv);
    }
    __syncthreads();
  }
  auto inverse_norm_of = [&](index_t v) -> W {
    if constexpr (Op::needs_inverse_norms) {
      if (v < cached) return static_cast<W>(shared.inverse_norms[v]);
      return view_inverse_norm<W>(row(v), features, rows.feature_stride, shared);
    } else {
      return W(0);
    }
  };
  double total = 0.0;
  if (pairs == pair_mode::all_pairs) {
    for (index_t i = 0; i < views; ++i) {
      const W inv_i = inverse_norm_of(i);
      for (index_t j = i + 1; j < views; ++j) {
        total += pair_distance<Op>(row(i), row(j), features, rows.feature_stride, inv_i, inverse_norm_of(j), shared);
      }
    }
  } else {
    const W inv_0 = inverse_norm_of(0);
    for (index_t j = 1; j < views; ++j) {
      total += pair_distance<Op>(row(0), row(j), features, rows.feature_stride, inv_0, inverse_norm_of(j), shared);
    }
  }
  return total;
}

// One block per (sample, encoder) item, f and g of a batch in one launch. Each item writes
// SSL of its sample id straight into the state; an id outside [0, id_space) is recorded and
// its sample skipped. The f item of a sample counts the fold.
template <class Op, class TF, class TG>
__global__ void __launch_bounds__(block_threads)
    fold_alignments(representation_rows<TF> f, representation_rows<TG> g, any_ids ids, index_t batch,
                    index_t views, index_t features, pair_mode pairs, index_t id_space, double* ssl_f, double* ssl_g,
                    std::int32_t* folds, detail::cuda::status_record* status, long long batch_number) {
  __shared__ alignment_shared shared;
  const double pair_count = static_cast<double>(detail::pair_count(pairs, views));
  for (index_t item = blockIdx.x; item < 2 * batch; item += gridDim.x) {
    const index_t b = item / 2;
    const bool reference = item % 2 != 0;
    bool negative = false;
    const unsigned long long raw = ids.get(b, negative);
    if (negative || raw >= static_cast<unsigned long long>(id_space)) {
      if (!reference && threadIdx.x == 0) note_bad_row(status, batch_number, false, b);
      continue;  // the same id for the whole block: the block skips the item together
    }
    const auto id = static_cast<index_t>(raw);
    double total = 0.0;
    if constexpr (std::is_same_v<TF, TG>) {
      // One copy of the (inlined) sample loop when f and g share an element type.
      total = sample_pair_total<Op>(reference ? g : f, b, views, features, pairs, shared);
    } else {
      total = reference ? sample_pair_total<Op>(g, b, views, features, pairs, shared)
                        : sample_pair_total<Op>(f, b, views, features, pairs, shared);
    }
    if (threadIdx.x == 0) {
      if (reference) {
        ssl_g[id] = total / pair_count;
      } else {
        ssl_f[id] = total / pair_count;
        atomicAdd(&folds[id], 1);
      }
    }
  }
}

// Fills the status record from the first bad id of batch `batch` that fold_alignments noted,
// unless an earlier batch's problem is there already.
template <int = 0>
__global__ void describe_bad_id(any_ids ids, index_t id_space, long long batch, detail::cuda::status_record* status) {
  const unsigned long long complement = status->first_bad_row_complement;
  if (status->problem != 0 || complement == 0 || static_cast<long long>(~complement >> 34) != batch) return;
  const auto row = static_cast<index_t>(~complement & ((1ull << 33) - 1));
  bool negative = false;
  status->problem = static_cast<int>(detail::cuda::input_problem::sample_id_out_of_range);
  status->batch = batch;
  status->position = row;
  status->bound = id_space;
  status->value = static_cast<long long>(ids.get(row, negative));
  status->argument = ids.is_unsigned() ? 1 : 0;  // describe() then prints the bits as unsigned
}

// The smallest id never folded, as its complement so that a zeroed slot means none; only
// finalize's error message needs it.
template <int = 0>
__global__ void find_first_unfolded(const std::int32_t* folds, index_t n, unsigned long long* first_complement) {
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    if (folds[i] == 0) atomicMax(first_complement, ~static_cast<unsigned long long>(i));
  }
}

template <int = 0>
__global__ void write_alignments(const double* ssl_f, const double* ssl_g, index_t n, double* out_f, index_t stride_f,
                                 double* out_g, index_t stride_g) {
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    out_f[i * stride_f] = ssl_f[i];
    out_g[i * stride_g] = ssl_g[i];
  }
}

}  // namespace memloc::kernels
