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

// Sums term(i) for i in [0, n): lanes of the working type within blocks of 1024 terms and
// fp64 across blocks, which keeps 49 344-feature fp32 sums within ~1e-6 relative without
// paying for fp64 arithmetic.
template <class W, class Term>
double blocked_sum(index_t n, Term&& term) noexcept {
  constexpr index_t block = 1024;
  double total = 0.0;
  for (index_t start = 0; start < n; start += block) {
    const index_t end = start + block < n ? start + block : n;
    W lanes[16] = {};
    index_t i = start;
    for (; i + 16 <= end; i += 16) {
      for (int l = 0; l < 16; ++l) lanes[l] += term(i + l);
    }
    for (; i < end; ++i) lanes[0] += term(i);
    W sum = W(0);
    for (int l = 0; l < 16; ++l) sum += lanes[l];
    total += static_cast<double>(sum);
  }
  return total;
}

// Lanes per sum, and view pairs summed at once: view i's features are loaded once for a
// tile of views j, and the tile's independent sums keep the floating-point units busy where
// one pair at a time is bound by its loads. Without AVX there are 16 vector registers: 4
// sums of 2 registers each, view i's 2, and temporaries.
inline constexpr index_t pair_lanes = 8;
#if defined(__AVX__)
inline constexpr int pair_tile = 8;
#else
inline constexpr int pair_tile = 4;
#endif

// first[t] (and second[t]) = the sums of Op's terms over features between a and b[t], for
// t < Tile: lanes of the working type within blocks of 1024 features, fp64 across blocks,
// which keeps 49 344-feature fp32 sums within ~1e-6 relative without fp64 arithmetic.
template <class Op, class W, int Tile>
void pair_sums(const W* a, const W* const* b, index_t features, W inv_a, const W* inv_b, double* first,
               double* second) noexcept {
  constexpr index_t block = 1024;
  for (int t = 0; t < Tile; ++t) first[t] = second[t] = 0.0;
  for (index_t start = 0; start < features; start += block) {
    const index_t end = start + block < features ? start + block : features;
    W s1[Tile][pair_lanes] = {}, s2[Tile][pair_lanes] = {};
    index_t k = start;
    for (; k + pair_lanes <= end; k += pair_lanes) {
      for (int t = 0; t < Tile; ++t) {
        for (index_t l = 0; l < pair_lanes; ++l) {
          s1[t][l] += Op::term(a[k + l], b[t][k + l], inv_a, inv_b[t]);
          if constexpr (Op::needs_second_sum) s2[t][l] += Op::second_term(a[k + l], b[t][k + l], inv_a, inv_b[t]);
        }
      }
    }
    for (; k < end; ++k) {
      for (int t = 0; t < Tile; ++t) {
        s1[t][0] += Op::term(a[k], b[t][k], inv_a, inv_b[t]);
        if constexpr (Op::needs_second_sum) s2[t][0] += Op::second_term(a[k], b[t][k], inv_a, inv_b[t]);
      }
    }
    for (int t = 0; t < Tile; ++t) {
      W total1 = W(0), total2 = W(0);
      for (index_t l = 0; l < pair_lanes; ++l) {
        total1 += s1[t][l];
        total2 += s2[t][l];
      }
      first[t] += static_cast<double>(total1);
      second[t] += static_cast<double>(total2);
    }
  }
}

// Adds d(rows[i], rows[j]) for j in [first, first + count), count <= pair_tile, to total, in
// order of j: the tile width is a template argument so the sums stay in registers.
template <class Op, class W, int Tile = pair_tile>
void add_tile_distances(const W* const* rows, const W* inv, index_t features, index_t i, index_t first, int count,
                        double& total) noexcept {
  if constexpr (Tile > 1) {
    if (count < Tile) {
      add_tile_distances<Op, W, Tile - 1>(rows, inv, features, i, first, count, total);
      return;
    }
  }
  double sums[Tile], second_sums[Tile];
  pair_sums<Op, W, Tile>(rows[i], rows + first, features, inv[i], inv + first, sums, second_sums);
  for (int t = 0; t < Tile; ++t) total += Op::finish(sums[t], second_sums[t], inv[i], inv[first + t]);
}

// Adds d(rows[i], rows[j]) for every j in [first, views), in order of j.
template <class Op, class W>
void add_distances_from(const W* const* rows, const W* inv, index_t features, index_t views, index_t i, index_t first,
                        double& total) noexcept {
  for (index_t j = first; j < views; j += pair_tile) {
    const int count = static_cast<int>(views - j < pair_tile ? views - j : pair_tile);
    add_tile_distances<Op, W>(rows, inv, features, i, j, count, total);
  }
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
        for (index_t i = 0; i < views; ++i) add_distances_from<Op>(rows, inv, features, views, i, i + 1, total);
      } else {
        add_distances_from<Op>(rows, inv, features, views, 0, 1, total);
      }
      out[b] = total / pairs;
    });
  });
}

}  // namespace memloc::detail::host
