#pragma once

// Per-unit statistics over a μ[rows, units] matrix (row-major, read from per-sample sums):
// the maximum with its first row, and the mean or median of the other rows. The mean sweeps
// blocks of units a tile of rows at a time; the median sweeps ranges of whole rows into
// per-unit columns of selection bits, then selects in each column.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../../exec.hpp"
#include "../../options.hpp"
#include "../../view.hpp"
#include "../formulas.hpp"
#include "parallel.hpp"

namespace memloc::detail::host {

struct unit_column_stats {
  double top;       // μ_max
  index_t top_row;  // first row holding μ_max
  double rest;      // μ_-max
};

// Narrows candidates (order-preserving bits, all equal above bit shift + width) to those
// whose digit at `shift` holds the k-th smallest, in place; returns how many remain and
// updates k to the rank among them.
inline index_t narrow_by_digit(std::uint32_t* candidates, index_t count, index_t& k, int shift, int width) noexcept {
  const std::uint32_t mask = (1u << width) - 1u;
  std::uint32_t histogram[2048] = {};
  for (index_t i = 0; i < count; ++i) ++histogram[(candidates[i] >> shift) & mask];
  const std::uint32_t digit = digit_holding_rank([&](std::uint32_t d) { return histogram[d]; }, mask + 1u, k);
  index_t kept = 0;
  for (index_t i = 0; i < count; ++i) {
    if (((candidates[i] >> shift) & mask) == digit) candidates[kept++] = candidates[i];
  }
  return kept;
}

// The k-th smallest (0-based) of a column's n selection bits (no NaN), given the histogram
// of their top 11-bit digits: a sweep that keeps the
// candidates of the digit holding rank k, then two lower digits (11 and 10 bits) on ever
// fewer candidates. About two sweeps of the values where std::nth_element's partitions cost
// several, with a mispredicted branch per comparison. candidates has room for n values.
inline std::uint32_t kth_smallest_counted(const std::uint32_t* bits, index_t n, index_t k,
                                          const std::uint32_t* top_histogram, std::uint32_t* candidates) noexcept {
  const std::uint32_t top = digit_holding_rank([&](std::uint32_t d) { return index_t{top_histogram[d]}; }, 2048u, k);
  index_t count = 0;
  for (index_t i = 0; i < n; ++i) {
    // Written without a branch: which values share the digit is data, not a pattern.
    candidates[count] = bits[i];
    count += (bits[i] >> 21) == top ? 1 : 0;
  }
  count = narrow_by_digit(candidates, count, k, 10, 11);
  narrow_by_digit(candidates, count, k, 0, 10);
  return candidates[0];
}

// The median of the m smallest (1 <= m <= n) of a column's n selection bits, the mean of
// the two middle values when m is even, as numpy does. With m = n - 1 it is the median of
// the others: without one instance of its maximum, the largest value, a column's values in
// sorted order are its m smallest, so the others' middle ranks are ranks of the whole
// column and nothing has to be removed.
inline double median_of_smallest(const std::uint32_t* bits, index_t n, index_t m, const std::uint32_t* top_histogram,
                                 std::uint32_t* candidates) noexcept {
  const index_t middle = m / 2;
  const double upper = value_from_order_preserving_bits(kth_smallest_counted(bits, n, middle, top_histogram, candidates));
  if (m % 2 == 1) return upper;
  const double lower =
      value_from_order_preserving_bits(kth_smallest_counted(bits, n, middle - 1, top_histogram, candidates));
  return middle_mean(lower, upper);
}

// Units per block of the mean's sweep: enough to sweep rows with long contiguous reads (64
// units read 512 bytes of each row; a narrower block visits every row's page as often for
// less data), and 64 at most: the sweep keeps a block's running maxima and sums in fixed
// local arrays.
inline index_t unit_block(index_t units) noexcept { return std::max<index_t>(1, std::min<index_t>(64, units)); }

// The μ matrix a finalize reads, without materialising it: row r is the sums of sample
// ids[r], each over `elements` values.
struct mu_from_sums {
  const double* sums;         // [samples, units]
  const std::int64_t* ids;    // the rows' sample ids, increasing
  index_t units, elements;

  const double* row(index_t r) const noexcept { return sums + ids[r] * units; }
};

// Rows read per tile of the mean's column block: the tile's part of the block (16 rows of
// at most 64 fp64 sums) stays in L1 while each unit takes its 16 values.
inline constexpr index_t column_tile_rows = 16;

// ---- the median: a row-wise sweep, then a selection per column -------------------------
// Blocks of units read a slice of every row (512 bytes of each 4 KB row at U = 512): a page
// per row, which the hardware prefetcher does not follow, and the sweep waited on memory
// (docs/benchmarks.md, the session of 2026-12-04, 18:09 UTC). The median instead sweeps ranges of whole rows,
// writing every unit's selection bits into its column, and then selects per column, where a
// column (200 KB at N = 50 000) is read front to back.

// A unit's running maximum over some rows: its value, its first row, and whether a NaN was
// seen (the first NaN wins the maximum, as it does for the packed keys of per_unit storage).
struct running_top {
  float value;
  index_t row;
  bool has_nan;

  void add(float x, index_t r) noexcept {
    if (x > value || (x != x && !has_nan)) {
      value = x;
      row = r;
    }
    has_nan |= x != x;
  }

  // The maximum over this range's rows and then `later`'s, as add() in row order gives it.
  void then(const running_top& later) noexcept {
    if (has_nan) return;
    if (later.has_nan || later.value > value) *this = later;
  }
};

// Rows read together by the median's sweep: its rows lie a row of fp64 sums apart (4 KB at
// U = 512), each its own page. stats/B_median_finalize_N50000_U512 ran 74.7 / 76.5 ms with
// tiles of 4 rows, 82.4 / 83.2 with 8 and 98.1 / 98.2 with 16.
inline constexpr index_t median_tile_rows = 4;

// Rows per task of the median's sweep: a multiple of the tile and at most 64 tasks, so the
// tasks, and so every result, depend on the row count alone.
inline index_t median_sweep_rows(index_t rows) noexcept {
  const index_t tiles = (rows + median_tile_rows - 1) / median_tile_rows;
  return std::max<index_t>(1, (tiles + 63) / 64) * median_tile_rows;
}

// Where the sweep writes unit u's bit of a row: out + u * stride + column, the row's place
// in unit u's column.
struct bits_out {
  std::uint32_t* out;
  index_t stride;
  std::uint32_t& at(index_t u, index_t column) const noexcept { return out[u * stride + column]; }
};

// Row r of the sweep, units [from, last) of a pass that starts at unit `first`: their running
// maxima (unit u's at tops[u - first]) and their selection bits at `column` of `to`.
inline void sweep_row_scalar(const mu_from_sums& mu, const mu_from_totals& to_mu, index_t r, index_t from,
                             index_t last, index_t first, running_top* tops, bits_out to, index_t column) noexcept {
  const double* row = mu.row(r);
  for (index_t u = from; u < last; ++u) {
    const float x = to_mu(row[u]);
    tops[u - first].add(x, r);
    to.at(u - first, column) = selection_bits(x);
  }
}

#if defined(__SSE2__)
// Units u to u + 7 of a tile of median_tile_rows rows from r0 (a pass from unit `first`, as
// sweep_row_scalar), four units to a vector, for μ that is the total times an exact
// reciprocal (what to_mu computes then, value for value). Eight units rather than four: at
// U = 512 the tile's rows lie 4 KB apart, in one L1 set, and a line taken in two visits
// could be evicted between them.
// The bits of four rows are transposed in registers and stored four rows to a column.
inline void sweep_eight_units(const mu_from_sums& mu, const mu_from_totals& to_mu, index_t r0, index_t u,
                              index_t first, running_top* tops, bits_out to, index_t column) noexcept {
  tops += u - first;
  static_assert(median_tile_rows % 4 == 0, "rows are transposed four at a time");
  constexpr int width = 8;
  const __m128d scale = _mm_set1_pd(to_mu.reciprocal);
  const __m128i sign_bit = _mm_set1_epi32(static_cast<int>(0x80000000u));
  const auto load_tops = [&](int q) {
    return _mm_setr_ps(tops[4 * q].value, tops[4 * q + 1].value, tops[4 * q + 2].value, tops[4 * q + 3].value);
  };
  __m128 top[2] = {load_tops(0), load_tops(1)};
  int nan_seen = 0;
  for (int lane = 0; lane < width; ++lane) nan_seen |= tops[lane].has_nan ? 1 << lane : 0;
  __m128 bits[2][4];
  for (index_t i = 0; i < median_tile_rows; ++i) {
    const double* row = mu.row(r0 + i) + u;
    __m128 x[2];
    int wins = 0, nan_lanes = 0;
    for (int q = 0; q < 2; ++q) {
      x[q] = _mm_movelh_ps(_mm_cvtpd_ps(_mm_mul_pd(_mm_loadu_pd(row + 4 * q), scale)),
                           _mm_cvtpd_ps(_mm_mul_pd(_mm_loadu_pd(row + 4 * q + 2), scale)));
      wins |= _mm_movemask_ps(_mm_cmpgt_ps(x[q], top[q])) << (4 * q);
      nan_lanes |= _mm_movemask_ps(_mm_cmpunord_ps(x[q], x[q])) << (4 * q);
    }
    // Lanes where a value may win (greater, or a unit's first NaN) take the exact path.
    if ((wins | (nan_lanes & ~nan_seen)) != 0) {
      float values[width];
      _mm_storeu_ps(values, x[0]);
      _mm_storeu_ps(values + 4, x[1]);
      // A lane's first NaN always comes this way, so add() has seen every NaN so far.
      for (int lane = 0; lane < width; ++lane) tops[lane].add(values[lane], r0 + i);
      top[0] = load_tops(0);
      top[1] = load_tops(1);
    }
    nan_seen |= nan_lanes;
    for (int q = 0; q < 2; ++q) {
      // selection_bits: -0 made +0, then negatives flipped whole and positives given the sign bit.
      const __m128i raw = _mm_castps_si128(_mm_add_ps(x[q], _mm_setzero_ps()));
      bits[q][i % 4] = _mm_castsi128_ps(_mm_xor_si128(raw, _mm_or_si128(_mm_srai_epi32(raw, 31), sign_bit)));
      if (i % 4 == 3) {
        _MM_TRANSPOSE4_PS(bits[q][0], bits[q][1], bits[q][2], bits[q][3]);
        for (int lane = 0; lane < 4; ++lane) {
          _mm_storeu_si128(reinterpret_cast<__m128i*>(&to.at(u - first + 4 * q + lane, column + i - 3)),
                           _mm_castps_si128(bits[q][lane]));
        }
      }
    }
  }
}
#endif

// Counts of the top 11-bit digit of a column's bits, in four interleaved tallies so that runs
// of one digit (values of one binade) do not wait on each other's increments.
inline void count_top_digits(const std::uint32_t* bits, index_t n, std::uint32_t* tallies /* 4 * 2048 */,
                             std::uint32_t* histogram /* 2048 */) noexcept {
  std::fill(tallies, tallies + 4 * 2048, 0u);
  index_t i = 0;
  for (; i + 4 <= n; i += 4) {
    ++tallies[bits[i] >> 21];
    ++tallies[2048 + (bits[i + 1] >> 21)];
    ++tallies[4096 + (bits[i + 2] >> 21)];
    ++tallies[6144 + (bits[i + 3] >> 21)];
  }
  for (; i < n; ++i) ++tallies[bits[i] >> 21];
  for (index_t d = 0; d < 2048; ++d) histogram[d] = tallies[d] + tallies[2048 + d] + tallies[4096 + d] + tallies[6144 + d];
}

// Bytes of columns a median finalize holds at once. The units are taken in passes of as
// many as fit: all of U = 512 at N = 50 000 (102 MB), 48 at a time at N = 1.28 M, where all
// 512 columns would take 2.6 GB beside the 5.2 GB state; a pass reads its slice of every
// row, as the blocks of units did before the whole-row sweep.
inline constexpr std::int64_t median_columns_budget = std::int64_t{1} << 28;

inline index_t median_pass_units(index_t units, index_t rows, std::int64_t budget) noexcept {
  const index_t fit = budget / (static_cast<std::int64_t>(sizeof(std::uint32_t)) * std::max<index_t>(1, rows));
  return std::min(units, std::max<index_t>(8, fit / 8 * 8));
}

// budget: bytes of columns at once (a test passes a small one to make several passes).
inline void column_medians(const host_exec& exec, const mu_from_sums& mu, index_t rows, unit_column_stats* stats,
                           std::int64_t budget = median_columns_budget) {
  const index_t units = mu.units;
  const mu_from_totals to_mu(mu.elements);
  const index_t per_task = median_sweep_rows(rows);
  const index_t tasks = (rows + per_task - 1) / per_task;
  const index_t pass_units = median_pass_units(units, rows, budget);
  // Every element is written by the sweep, so the storage is not zeroed first. (Streaming
  // the bits past the cache in whole lines was tried: small columns, read back by the
  // selection, then came from memory rather than cache; docs/benchmarks.md.)
  const std::unique_ptr<std::uint32_t[]> column_storage(new std::uint32_t[static_cast<std::size_t>(pass_units * rows)]);
  const bits_out to_columns{column_storage.get(), rows};
  std::vector<running_top> tops(static_cast<std::size_t>(tasks * pass_units));
  struct scratch_type {
    std::vector<std::uint32_t> tallies, histogram, candidates;
  };
  const scratch_type prototype{std::vector<std::uint32_t>(4 * 2048), std::vector<std::uint32_t>(2048),
                               std::vector<std::uint32_t>(static_cast<std::size_t>(rows))};
  for (index_t first = 0; first < units; first += pass_units) {
    const index_t last = std::min(units, first + pass_units), width = last - first;
    parallel_for(exec, tasks, [&](index_t k) {
      const index_t begin = k * per_task, end = std::min(rows, begin + per_task);
      running_top* mine = tops.data() + k * width;
      const double* first_row = mu.row(begin);
      for (index_t u = first; u < last; ++u) mine[u - first] = running_top{to_mu(first_row[u]), begin, false};
      index_t r0 = begin;
#if defined(__SSE2__)
      if (to_mu.exact) {
        for (; r0 + median_tile_rows <= end; r0 += median_tile_rows) {
          index_t u = first;
          for (; u + 8 <= last; u += 8) sweep_eight_units(mu, to_mu, r0, u, first, mine, to_columns, r0);
          for (index_t i = r0; i < r0 + median_tile_rows; ++i) {
            sweep_row_scalar(mu, to_mu, i, u, last, first, mine, to_columns, i);
          }
        }
      }
#endif
      for (; r0 < end; ++r0) sweep_row_scalar(mu, to_mu, r0, first, last, first, mine, to_columns, r0);
    });
    parallel_for_with_scratch(exec, width, prototype, [&](index_t j, scratch_type& s) {
      running_top top = tops[static_cast<std::size_t>(j)];
      for (index_t k = 1; k < tasks; ++k) top.then(tops[static_cast<std::size_t>(k * width + j)]);
      unit_column_stats& out = stats[first + j];
      out.top_row = top.row;
      if (top.has_nan) {
        out.top = out.rest = static_cast<double>(NAN);
        return;
      }
      out.top = top.value;
      const std::uint32_t* column = &to_columns.at(j, 0);
      count_top_digits(column, rows, s.tallies.data(), s.histogram.data());
      out.rest = median_of_smallest(column, rows, rows - 1, s.histogram.data(), s.candidates.data());
    });
  }
}

// Writes stats[u] for every unit: the median of the others, or their mean. A NaN anywhere
// in a column makes both its maximum and its rest NaN (comparisons would silently skip it
// otherwise).
inline void column_stats(const host_exec& exec, const mu_from_sums& mu, index_t rows, rest_reduction rest,
                         unit_column_stats* stats) {
  if (rest == rest_reduction::median) {
    column_medians(exec, mu, rows, stats);
    return;
  }
  const index_t units = mu.units;
  const index_t block = unit_block(units);
  const index_t blocks = (units + block - 1) / block;
  parallel_for(exec, blocks, [&](index_t k) {
    const index_t first = k * block;
    const index_t width = std::min(block, units - first);
    float top[64];
    index_t top_row[64];
    double sum[64];
    bool has_nan[64];
    const mu_from_totals to_mu(mu.elements);
    for (index_t j = 0; j < width; ++j) {
      top[j] = to_mu(mu.row(0)[first + j]);
      top_row[j] = 0;
      sum[j] = 0.0;
      has_nan[j] = false;
    }
    const double* tile[column_tile_rows];
    for (index_t r0 = 0; r0 < rows; r0 += column_tile_rows) {
      const index_t height = std::min(column_tile_rows, rows - r0);
      for (index_t i = 0; i < height; ++i) tile[i] = mu.row(r0 + i) + first;
      for (index_t j = 0; j < width; ++j) {
        for (index_t i = 0; i < height; ++i) {
          const float x = to_mu(tile[i][j]);
          // The first NaN wins the maximum, as it does for the packed keys of per_unit storage.
          const bool first_nan = x != x && !has_nan[j];
          has_nan[j] |= x != x;
          if (x > top[j] || first_nan) {
            top[j] = x;
            top_row[j] = r0 + i;
          }
          sum[j] += static_cast<double>(x);
        }
      }
    }
    for (index_t j = 0; j < width; ++j) {
      unit_column_stats& out = stats[first + j];
      out.top_row = top_row[j];
      if (has_nan[j]) {
        out.top = out.rest = static_cast<double>(NAN);
        continue;
      }
      out.top = top[j];
      out.rest = mean_of_others(sum[j], out.top, rows);
    }
  });
}

}  // namespace memloc::detail::host
