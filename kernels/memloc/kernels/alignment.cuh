#pragma once

// Kernels of the alignment accumulator: per-sample distances between views (the same launch
// counts each sample's folds, so no registration pass runs), the first id never folded for
// finalize's message, and the copy of the state to the caller's outputs. Bad rows are
// described, fold counts summarized and states merged by the kernels every device
// accumulator shares (registration.cuh, state_merge.cuh).

#include <cstdint>
#include <type_traits>

#include "memloc/detail/formulas.hpp"
#include "memloc/kernels/common.cuh"
#include "memloc/kernels/index_list.cuh"
#include "memloc/kernels/shared_memory.cuh"
#include "memloc/kernels/status.cuh"
#include "memloc/options.hpp"
#include "memloc/types.hpp"
#include "memloc/view.hpp"

namespace memloc::kernels {

// One encoder's batch [samples, views, features] as the kernels read it.
template <class T>
using representation_rows = representations_view<const T, device_space>;

// Every view's inverse norm is computed once per sample and kept for its pairs: in shared
// memory for up to this many views, beyond that in the block's own slice of a global scratch
// (views doubles per block, so the block count of such a launch is capped; see
// alignment_state.cuh). Recomputing a norm per pair instead would read each view V - 1
// times more.
constexpr int cached_inverse_norms = 64;

// Up to register_views views of fp32, fp16 or bf16 (fp32 working type) and a distance with
// one sum, a sample's pairs take one read of its features (two when the distance needs the
// norms) instead of one block-wide pass per pair, which reads every view V - 1 times more and
// waits on a block reduction per pair: each thread loads the views' values of its features
// into registers and keeps a partial sum per pair (45 for the paper's V = 10). Each thread
// visits the same features in the same order as in pair_distance, and the partials are reduced
// in block_sum's order, so both paths add the same terms in the same order. On the GPU they
// agree to rounding, not bit for bit, most likely because nvcc fuses a term's products into
// multiply-adds differently in each (tests/cuda/test_alignment.cu); each path gives the same
// bits run to run.
constexpr int register_views = 10;
constexpr int register_pairs = register_views * (register_views - 1) / 2;

// The slot of view pair (i, j), i < j, among a thread's register_pairs partial sums: pairs in
// the host's order (i, then j), for any view count up to register_views.
__host__ __device__ constexpr int pair_slot(int i, int j) {
  return i * register_views - i * (i + 1) / 2 + (j - i - 1);
}

struct alignment_shared {
  double partials[block_threads / warp_size];
  double broadcast;
  double inverse_norms[cached_inverse_norms];
  double warp_sums[block_threads / warp_size][register_pairs];
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
  for (const index_t k : block_stride_range(features)) {
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
  for (const index_t k : block_stride_range(features)) {
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
// order. Called by the whole block. `norms` holds `views` doubles for the block: its shared
// cache, or its slice of the global scratch when views > cached_inverse_norms.
template <class Op, class T>
__device__ double sample_pair_total(const representation_rows<T>& rows, index_t b, index_t views, index_t features,
                                    pair_mode pairs, alignment_shared& shared, double* norms) {
  using W = working_t<T>;
  const T* sample = rows.data_handle() + b * rows.stride(0);
  auto row = [&](index_t v) { return sample + v * rows.stride(1); };
  if constexpr (Op::needs_inverse_norms) {
    for (index_t v = 0; v < views; ++v) {
      const W inv = view_inverse_norm<W>(row(v), features, rows.stride(2), shared);
      if (threadIdx.x == 0) norms[v] = static_cast<double>(inv);
    }
    __syncthreads();  // thread 0's writes, shared or global, are seen by the block after the barrier
  }
  auto inverse_norm_of = [&](index_t v) -> W {
    if constexpr (Op::needs_inverse_norms) {
      return static_cast<W>(norms[v]);
    } else {
      return W(0);
    }
  };
  double total = 0.0;
  if (pairs == pair_mode::all_pairs) {
    for (index_t i = 0; i < views; ++i) {
      const W inv_i = inverse_norm_of(i);
      for (index_t j = i + 1; j < views; ++j) {
        total += pair_distance<Op>(row(i), row(j), features, rows.stride(2), inv_i, inverse_norm_of(j), shared);
      }
    }
  } else {
    const W inv_0 = inverse_norm_of(0);
    for (index_t j = 1; j < views; ++j) {
      total += pair_distance<Op>(row(0), row(j), features, rows.stride(2), inv_0, inverse_norm_of(j), shared);
    }
  }
  return total;
}

// Each warp's sum of the first `count` of every thread's `values`, into shared.warp_sums, in
// block_sum's butterfly order. Called by the whole block; the sums are readable after it.
template <int Capacity>
__device__ void publish_warp_sums(const float (&values)[Capacity], int count, alignment_shared& shared) {
  const int lane = static_cast<int>(threadIdx.x) % warp_size;
  const int warp = static_cast<int>(threadIdx.x) / warp_size;
  __syncthreads();  // the previous sums may still be read
#pragma unroll
  for (int p = 0; p < Capacity; ++p) {
    if (p < count) {
      const double sum = group_sum<warp_size>(static_cast<double>(values[p]));
      if (lane == 0) shared.warp_sums[warp][p] = sum;
    }
  }
  __syncthreads();
}

// Slot p's block total from publish_warp_sums, warps added in block_sum's order.
__device__ inline double block_total_of(const alignment_shared& shared, int p) {
  double total = 0.0;
  for (int w = 0; w < block_threads / warp_size; ++w) total += shared.warp_sums[w][p];
  return total;
}

// sample_pair_total for views <= register_views and an fp32 working type, in thread 0.
template <class Op, class T>
__device__ double sample_pair_total_in_registers(const representation_rows<T>& rows, index_t b, index_t views,
                                                 index_t features, pair_mode pairs, alignment_shared& shared) {
  using W = working_t<T>;
  static_assert(std::is_same_v<W, float> && !Op::needs_second_sum, "the register path keeps one fp32 sum per pair");
  const T* sample = rows.data_handle() + b * rows.stride(0);
  const index_t view_stride = rows.stride(1), feature_stride = rows.stride(2);
  const int view_count = static_cast<int>(views);
  auto load_views = [&](index_t k, W (&x)[register_views]) {
#pragma unroll
    for (int v = 0; v < register_views; ++v) {
      if (v < view_count) x[v] = load_as<W>(sample[v * view_stride + k * feature_stride]);
    }
  };
  W inverse_norms[register_views] = {};
  if constexpr (Op::needs_inverse_norms) {
    W squares[register_views] = {};
    for (const index_t k : block_stride_range(features)) {
      W x[register_views] = {};
      load_views(k, x);
#pragma unroll
      for (int v = 0; v < register_views; ++v) {
        if (v < view_count) squares[v] += x[v] * x[v];
      }
    }
    publish_warp_sums(squares, view_count, shared);
#pragma unroll
    for (int v = 0; v < register_views; ++v) {
      if (v < view_count) inverse_norms[v] = detail::inverse_norm<W>(block_total_of(shared, v));
    }
  }
  // Anchor pairs are (0, j): the first row of the slots.
  const int first_views = pairs == pair_mode::all_pairs ? view_count - 1 : 1;
  W sums[register_pairs] = {};
  for (const index_t k : block_stride_range(features)) {
    W x[register_views] = {};
    load_views(k, x);
#pragma unroll
    for (int i = 0; i < register_views - 1; ++i) {
#pragma unroll
      for (int j = i + 1; j < register_views; ++j) {
        if (i < first_views && j < view_count) {
          sums[pair_slot(i, j)] += Op::term(x[i], x[j], inverse_norms[i], inverse_norms[j]);
        }
      }
    }
  }
  publish_warp_sums(sums, register_pairs, shared);
  double total = 0.0;
  if (threadIdx.x == 0) {
    for (int i = 0; i < first_views; ++i) {
      for (int j = i + 1; j < view_count; ++j) {
        total += Op::finish(block_total_of(shared, pair_slot(i, j)), 0.0, inverse_norms[i], inverse_norms[j]);
      }
    }
  }
  return total;
}

// One block per (sample, encoder) item, f and g of a batch in one launch. Each item writes
// SSL of its sample id straight into the state; an id outside [0, id_space) is recorded and
// its sample skipped. The f item of a sample counts the fold. With more than
// cached_inverse_norms views, `norm_scratch` holds views doubles per block of the grid.
// InRegisters picks sample_pair_total_in_registers (the caller checked it applies).
template <class Op, bool InRegisters, class TF, class TG>
__global__ void __launch_bounds__(block_threads)
    fold_alignments(representation_rows<TF> f, representation_rows<TG> g, index_list ids, index_t batch,
                    index_t views, index_t features, pair_mode pairs, index_t id_space, double* ssl_f, double* ssl_g,
                    std::int32_t* folds, status_record* status, long long batch_number, double* norm_scratch) {
  struct alignment_tag;
  alignment_shared& shared = static_shared<alignment_shared, alignment_tag>();
  double* const norms =
      views <= cached_inverse_norms ? shared.inverse_norms : norm_scratch + static_cast<index_t>(blockIdx.x) * views;
  const double pair_count = static_cast<double>(detail::pair_count(pairs, views));
  for (const index_t item : grid_blocks_range(2 * batch)) {
    const index_t b = item / 2;
    const bool reference = item % 2 != 0;
    if (!ids.in_range(b, id_space)) {
      if (!reference && threadIdx.x == 0) note_bad_row(status, batch_number, false, b);
      continue;  // the same id for the whole block: the block skips the item together
    }
    const index_t id = ids(b);
    double total = 0.0;
    if constexpr (InRegisters) {
      total = reference ? sample_pair_total_in_registers<Op>(g, b, views, features, pairs, shared)
                        : sample_pair_total_in_registers<Op>(f, b, views, features, pairs, shared);
    } else if constexpr (std::is_same_v<TF, TG>) {
      // One copy of the (inlined) sample loop when f and g share an element type.
      total = sample_pair_total<Op>(reference ? g : f, b, views, features, pairs, shared, norms);
    } else {
      total = reference ? sample_pair_total<Op>(g, b, views, features, pairs, shared, norms)
                        : sample_pair_total<Op>(f, b, views, features, pairs, shared, norms);
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

// The smallest id never folded, as its complement so that a zeroed slot means none; only
// finalize's error message needs it.
template <int = 0>
__global__ void find_first_unfolded(const std::int32_t* folds, index_t n, unsigned long long* first_complement) {
  for (const index_t i : grid_stride_range(n)) {
    if (folds[i] == 0) atomicMax(first_complement, ~static_cast<unsigned long long>(i));
  }
}

template <int = 0>
__global__ void write_alignments(const double* ssl_f, const double* ssl_g, index_t n, double* out_f, index_t stride_f,
                                 double* out_g, index_t stride_g) {
  for (const index_t i : grid_stride_range(n)) {
    out_f[i * stride_f] = ssl_f[i];
    out_g[i * stride_g] = ssl_g[i];
  }
}

}  // namespace memloc::kernels
