#pragma once

// Per-sample alignment on the host: the mean distance between a sample's views over the
// chosen pairs. A sample's V views are first gathered into a contiguous block of the
// working type (unless they already are one), which then stays in cache while every pair
// is compared.

#include <cstdint>
#include <vector>

#include "../../exec.hpp"
#include "../../options.hpp"
#include "../../view.hpp"
#include "../formulas.hpp"
#include "parallel.hpp"

namespace memloc::detail::host {

// Independent fp32 lanes per sum: four vector registers' worth, so that a sum is not one
// chain of dependent additions. 16 lanes are four SSE registers but a single AVX-512 one,
// with which -march=native ran at half the speed of the SSE2 build.
#if defined(__AVX512F__)
inline constexpr int sum_lanes = 64;
#elif defined(__AVX__)
inline constexpr int sum_lanes = 32;
#else
inline constexpr int sum_lanes = 16;
#endif

// Sums first(i) (and second(i)) for i in [0, n): lanes of the working type within blocks
// of 1024 terms and fp64 across blocks, which keeps 49 344-feature fp32 sums within ~1e-6
// relative without paying for fp64 arithmetic.
template <class W, bool Two, class First, class Second>
void blocked_sums(index_t n, First&& first, Second&& second, double& first_total, double& second_total) noexcept {
  constexpr index_t block = 1024;
  first_total = 0.0;
  second_total = 0.0;
  for (index_t start = 0; start < n; start += block) {
    const index_t end = start + block < n ? start + block : n;
    W a[sum_lanes] = {}, b[sum_lanes] = {};
    index_t i = start;
    for (; i + sum_lanes <= end; i += sum_lanes) {
      for (int l = 0; l < sum_lanes; ++l) {
        a[l] += first(i + l);
        if constexpr (Two) b[l] += second(i + l);
      }
    }
    for (; i < end; ++i) {
      a[0] += first(i);
      if constexpr (Two) b[0] += second(i);
    }
    // The lanes are folded in halves: element-wise adds that vectorize, log2(lanes) deep,
    // where adding them one after another is a chain as long as the lane count, which at
    // D = 512 cost more than the block's sum itself.
    for (int width = sum_lanes / 2; width >= 1; width /= 2) {
      for (int l = 0; l < width; ++l) {
        a[l] += a[l + width];
        if constexpr (Two) b[l] += b[l + width];
      }
    }
    first_total += static_cast<double>(a[0]);
    second_total += static_cast<double>(b[0]);
  }
}

template <class W, class Term>
double blocked_sum(index_t n, Term&& term) noexcept {
  double total = 0.0, unused = 0.0;
  blocked_sums<W, false>(n, term, term, total, unused);
  return total;
}

template <class Op, class W>
double pair_distance(const W* a, const W* b, index_t features, W inv_a, W inv_b) noexcept {
  double first = 0.0, second = 0.0;
  blocked_sums<W, Op::needs_second_sum>(
      features, [&](index_t k) { return Op::term(a[k], b[k], inv_a, inv_b); },
      [&](index_t k) { return Op::second_term(a[k], b[k], inv_a, inv_b); }, first, second);
  return Op::finish(first, second, inv_a, inv_b);
}

// Row v of sample b as a contiguous array of the working type: the buffer itself when it
// already is one, else a converted copy in `block`.
template <class W, class T, class Space>
const W* view_row(const representations_view<const T, Space>& reps, index_t b, index_t v, W* block) noexcept {
  const index_t features = reps.extent(2);
  const T* row = reps.data_handle() + reps.offset(b, v, 0);
  if constexpr (std::is_same_v<T, W>) {
    if (reps.stride(2) == 1) return row;
  }
  W* out = block + v * features;
  for (index_t k = 0; k < features; ++k) out[k] = load_as<W>(row[k * reps.stride(2)]);
  return out;
}

template <class W>
struct alignment_scratch {
  std::vector<W> block;
  std::vector<const W*> rows;
  std::vector<W> inverse_norms;
};

// out[b] = mean over the chosen view pairs of d(reps(b, i), reps(b, j)).
template <class T, class Space>
void alignment_distances(const host_exec& exec, const representations_view<const T, Space>& reps,
                         const alignment_options& options, double* out) {
  using W = working_t<T>;
  const index_t samples = reps.extent(0), views = reps.extent(1), features = reps.extent(2);
  const double pairs = static_cast<double>(pair_count(options.pairs, views));
  alignment_scratch<W> prototype;
  prototype.block.resize(static_cast<std::size_t>(views * features));
  prototype.rows.resize(static_cast<std::size_t>(views));
  prototype.inverse_norms.resize(static_cast<std::size_t>(views));
  dispatch_distance(options.distance, [&](auto op) {
    using Op = decltype(op);
    parallel_for_with_scratch(exec, samples, prototype, [&](index_t b, alignment_scratch<W>& scratch) {
      const W** rows = scratch.rows.data();
      W* inv = scratch.inverse_norms.data();
      for (index_t v = 0; v < views; ++v) {
        rows[v] = view_row(reps, b, v, scratch.block.data());
        inv[v] = W(0);
        if constexpr (Op::needs_inverse_norms) {
          const W* row = rows[v];
          inv[v] = inverse_norm<W>(blocked_sum<W>(features, [&](index_t k) { return row[k] * row[k]; }));
        }
      }
      double total = 0.0;
      if (options.pairs == pair_mode::all_pairs) {
        for (index_t i = 0; i < views; ++i)
          for (index_t j = i + 1; j < views; ++j) total += pair_distance<Op>(rows[i], rows[j], features, inv[i], inv[j]);
      } else {
        for (index_t j = 1; j < views; ++j) total += pair_distance<Op>(rows[0], rows[j], features, inv[0], inv[j]);
      }
      out[b] = total / pairs;
    });
  });
}

}  // namespace memloc::detail::host
