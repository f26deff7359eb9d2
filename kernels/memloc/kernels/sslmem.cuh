#pragma once

// Kernels of SSLMem scores (per sample, with the set normalisations) and of LayerMem's
// means over a subset. Scores go to a scratch buffer and reach the caller's outputs only if
// no problem was found, so a failed call leaves its outputs untouched, as on the host.

#include <cstdint>

#include "memloc/detail/formulas.hpp"
#include "memloc/kernels/common.cuh"
#include "memloc/kernels/exact_reductions.cuh"
#include "memloc/kernels/shared_memory.cuh"
#include "memloc/options.hpp"
#include "memloc/view.hpp"

namespace memloc::kernels {

// SSL_f and SSL_g of one set of samples.
struct ssl_pair {
  using element_type = const double;  // read only (see index_list)
  vector_view<const double, device_space> f;
  vector_view<const double, device_space> g;
};

struct sslmem_report {
  // ~(2 * (point * samples + i) + (0 for ssl_f, 1 for ssl_g)) of the first negative
  // alignment in the host's order of checks; 0: none.
  unsigned long long first_negative;
  unsigned int failed;  // a negative alignment or a statistic that cannot normalise: outputs stay unwritten
  unsigned int reserved;
};

__device__ inline bool first_thread_of_grid() { return blockIdx.x == 0 && threadIdx.x == 0; }

// Per-sample scores of set `point`; for range and max, the statistics of what they divide.
// stats[0], stats[1]: the differences (range) or SSL_f and SSL_g (max).
template <int = 0>
__global__ void __launch_bounds__(block_threads)
    sslmem_first_pass(ssl_pair in, index_t samples, index_t point, sslmem_normalization normalization, bool clamp,
                      double* scores, set_statistics* stats, sslmem_report* report) {
  set_accumulator first, second;
  unsigned long long negative = 0;
  for (const index_t i : grid_stride_range(samples)) {
    const double f = in.f(i);
    const double g = in.g(i);
    if (f < 0.0 || g < 0.0) {
      // Alignments are distances; the host reports ssl_f before ssl_g at the same sample.
      const auto key = 2ull * static_cast<unsigned long long>(point * samples + i) + (f < 0.0 ? 0ull : 1ull);
      negative = ~key > negative ? ~key : negative;
    }
    double score = 0.0;
    switch (normalization) {
      case sslmem_normalization::none: score = detail::sslmem_difference(f, g); break;
      case sslmem_normalization::ratio: score = detail::sslmem_ratio(f, g); break;
      case sslmem_normalization::range:
        score = detail::sslmem_difference(f, g);
        first.add(score);
        break;
      case sslmem_normalization::max:
        first.add(f);
        second.add(g);
        break;
    }
    const bool final_here = normalization == sslmem_normalization::none || normalization == sslmem_normalization::ratio;
    scores[i] = clamp && final_here ? detail::clamp01(score) : score;
  }
  negative = warp_max(negative);
  if (negative != 0 && threadIdx.x % warp_size == 0) {
    atomicMax(&report->first_negative, negative);
    atomicOr(&report->failed, 1u);
  }
  // The normalisation is the same for the whole grid, so whole warps flush.
  if (normalization == sslmem_normalization::range || normalization == sslmem_normalization::max) first.flush(stats);
  if (normalization == sslmem_normalization::max) second.flush(stats + 1);
}

// The max normalisation's differences g/max g - f/max f, and their statistics in stats[2].
template <int = 0>
__global__ void __launch_bounds__(block_threads)
    sslmem_scaled_differences(ssl_pair in, index_t samples, double* scores, set_statistics* stats,
                              sslmem_report* report) {
  const set_statistics f_stats = stats[0], g_stats = stats[1];
  const double f_max = maximum_of(f_stats), g_max = maximum_of(g_stats);
  const detail::set_division f_division = division_of(f_stats, f_max), g_division = division_of(g_stats, g_max);
  const bool invalid = f_division == detail::set_division::invalid || g_division == detail::set_division::invalid;
  if (invalid && first_thread_of_grid()) atomicOr(&report->failed, 1u);
  set_accumulator differences;
  for (const index_t i : grid_stride_range(samples)) {
    const double f = detail::divided(f_division, in.f(i), f_max);
    const double g = detail::divided(g_division, in.g(i), g_max);
    const double score = detail::sslmem_difference(f, g);
    scores[i] = score;
    differences.add(score);
  }
  differences.flush(stats + 2);
}

// Divides the scores by their range (by_range) or maximum, then clamps them if asked.
template <int = 0>
__global__ void sslmem_divide_scores(index_t samples, const set_statistics* statistics, bool by_range, bool clamp,
                                     double* scores, sslmem_report* report) {
  const set_statistics s = *statistics;
  const double statistic = by_range ? maximum_of(s) - minimum_of(s) : maximum_of(s);
  const detail::set_division division = division_of(s, statistic);
  if (division == detail::set_division::invalid && first_thread_of_grid()) atomicOr(&report->failed, 1u);
  for (const index_t i : grid_stride_range(samples)) {
    const double score = detail::divided(division, scores[i], statistic);
    scores[i] = clamp ? detail::clamp01(score) : score;
  }
}

template <int = 0>
__global__ void store_scores(const double* scores, index_t samples, double* out, index_t stride,
                             const sslmem_report* report) {
  if (report->failed != 0) return;
  for (const index_t i : grid_stride_range(samples)) {
    out[i * stride] = scores[i];
  }
}

// ---- LayerMem -------------------------------------------------------------------------------

// Mean score over the subset at every point, one block per point, summed in fp64 in a fixed
// order. `members` lists the subset's samples; null means all of them.
template <int = 0>
__global__ void __launch_bounds__(block_threads)
    subset_means(const double* scores, index_t samples, index_t points, const std::int64_t* members, index_t count,
                 double* means) {
  struct partials_tag;
  double* const partials = static_shared<double[block_threads / warp_size], partials_tag>();
  for (const index_t p : grid_blocks_range(points)) {
    const double* row = scores + p * samples;
    double sum = 0.0;
    for (const index_t j : block_stride_range(count)) sum += row[members != nullptr ? members[j] : j];
    const double total = block_sum(sum, partials);
    if (threadIdx.x == 0) means[p] = total / static_cast<double>(count);
  }
}

struct layermem_outputs {
  vector_view<double, device_space> layermem;
  vector_view<double, device_space> delta;
  vector_view<std::int64_t, device_space> subset;  // empty (null) when not asked for
};

template <int = 0>
__global__ void write_layermem(const double* means, index_t points, const std::int64_t* members, index_t count,
                               layermem_outputs out, const sslmem_report* report) {
  if (report->failed != 0) return;
  for (const index_t p : grid_stride_range(points)) {
    out.layermem(p) = means[p];
    // The first point has no predecessor.
    out.delta(p) = p == 0 ? static_cast<double>(NAN) : means[p] - means[p - 1];
  }
  if (out.subset.data_handle() == nullptr) return;
  for (const index_t j : grid_stride_range(count)) out.subset(j) = members != nullptr ? members[j] : j;
}

}  // namespace memloc::kernels
