#pragma once

// Per-unit statistics over a μ[rows, units] matrix (row-major, read from per-sample sums):
// the maximum with its first row, and the mean or median of the other rows. The mean sweeps
// blocks of units a tile of rows at a time. The median of many rows brackets each unit's
// middle values from a sample and keeps only those in one sweep; of fewer rows, it sweeps
// ranges of whole rows into per-unit columns of selection bits, then selects in each column.

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// The bracketed median's sweep also has an AVX2 version, chosen at run time where the CPU
// has it, so the default (baseline x86-64) build gets it too.
#if defined(__x86_64__) && defined(__GNUC__)
#define MEMLOC_HOST_AVX2_DISPATCH 1
#include <immintrin.h>
#else
#define MEMLOC_HOST_AVX2_DISPATCH 0
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

// The median of the m smallest values of a column, the mean of the two middle values when m
// is even, as numpy does, given kth(rank): the selection bits of the rank-th smallest. With
// m = n - 1 it is the median of the others: without one instance of its maximum, the
// largest value, a column's values in sorted order are its m smallest, so the others'
// middle ranks are ranks of the whole column and nothing has to be removed.
template <class Kth>
double median_by_ranks(index_t m, Kth&& kth) noexcept {
  const index_t middle = m / 2;
  const double upper = value_from_order_preserving_bits(kth(middle));
  if (m % 2 == 1) return upper;
  return middle_mean(value_from_order_preserving_bits(kth(middle - 1)), upper);
}

// The median of the m smallest (1 <= m <= n) of a column's n selection bits.
inline double median_of_smallest(const std::uint32_t* bits, index_t n, index_t m, const std::uint32_t* top_histogram,
                                 std::uint32_t* candidates) noexcept {
  return median_by_ranks(m, [&](index_t k) { return kth_smallest_counted(bits, n, k, top_histogram, candidates); });
}

// One round of the selections below: [low, high] cut into at most 256 slices of 2^shift
// values, with the count of n values in each.
struct range_slices {
  std::uint32_t low, high;
  int shift;
  std::uint32_t histogram[256] = {};

  range_slices(const std::uint32_t* values, index_t n, std::uint32_t low_, std::uint32_t high_) noexcept
      : low(low_), high(high_), shift(std::max(0, 32 - __builtin_clz(high_ - low_) - 8)) {  // span >> shift < 256
    for (index_t i = 0; i < n; ++i) ++histogram[of(values[i])];
  }
  std::uint32_t of(std::uint32_t x) const noexcept { return (x - low) >> shift; }
  // The slice holding rank k; k becomes the rank within it.
  std::uint32_t holding(index_t& k) const noexcept {
    return digit_holding_rank([&](std::uint32_t d) { return index_t{histogram[d]}; }, 256u, k);
  }
  // A slice's first value, and its last or high, whichever is lower.
  std::uint32_t first_of(std::uint32_t slice) const noexcept {
    return static_cast<std::uint32_t>(std::uint64_t{low} + (std::uint64_t{slice} << shift));
  }
  std::uint32_t last_of(std::uint32_t slice) const noexcept {
    const std::uint64_t end = std::uint64_t{first_of(slice)} + (std::uint64_t{1} << shift) - 1;
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(high, end));
  }
  // Copies the values of `slice` to `to` (which may be `values`); returns how many. Every
  // value is written, and `to[count]` may be overwritten: written without a branch, since
  // which values share the slice is data, not a pattern.
  index_t keep(const std::uint32_t* values, index_t n, std::uint32_t slice, std::uint32_t* to) const noexcept {
    index_t kept = 0;
    for (index_t i = 0; i < n; ++i) {
      const std::uint32_t x = values[i];
      to[kept] = x;
      kept += of(x) == slice ? 1 : 0;
    }
    return kept;
  }
  // keep() of two slices in one sweep, into lists that do not overlap the values; the
  // first may write one past its end.
  void keep_both(const std::uint32_t* values, index_t n, std::uint32_t slice_a, std::uint32_t* to_a, index_t& in_a,
                 std::uint32_t slice_b, std::uint32_t* to_b, index_t& in_b) const noexcept {
    in_a = in_b = 0;
    for (index_t i = 0; i < n; ++i) {
      const std::uint32_t x = values[i], slice = of(x);
      to_a[in_a] = x;
      in_a += slice == slice_a ? 1 : 0;
      to_b[in_b] = x;
      in_b += slice == slice_b ? 1 : 0;
    }
  }
};

// The k-th smallest (0-based, k < n) of n selection bits, all in [low, high], for lists of a
// few thousand: each round counts 256 equal slices of the range (256 counts where the top
// digit of kth_smallest_counted has 2048) and keeps the slice holding rank k, whose range
// the next round slices. Slices of the range rather than of fixed bits follow the values:
// a unit's bracket spans a sliver of one or two binades, which its first round already
// cuts into buckets of a few values each. work has room for n values.
inline std::uint32_t kth_smallest_in_range(const std::uint32_t* bits, index_t n, index_t k, std::uint32_t* work,
                                           std::uint32_t low, std::uint32_t high) noexcept {
  const std::uint32_t* from = bits;
  while (low != high) {
    const range_slices cut(from, n, low, high);
    const std::uint32_t slice = cut.holding(k);
    n = cut.keep(from, n, slice, work);
    from = work;
    low = cut.first_of(slice);
    high = cut.last_of(slice);
  }
  return low;
}

// The k_low-th and k_high-th smallest (k_low <= k_high < n) of n selection bits, all in
// [low, high], as kth_smallest_in_range gives each, in shared sweeps: rounds go on together
// while both ranks fall in one slice; the round that parts them keeps both slices, and each
// is finished alone. For a bracket's two sample ranks, which one round seldom parts, this
// saves most of a second selection's sweeps. work has room for 2n + 3 values.
struct bits_pair {
  std::uint32_t low, high;
};
inline bits_pair kth_pair_in_range(const std::uint32_t* bits, index_t n, index_t k_low, index_t k_high,
                                   std::uint32_t* work, std::uint32_t low, std::uint32_t high) noexcept {
  // Parted slices go past the first n + 1 values, which the shared rounds compact in place.
  std::uint32_t* const parted = work + n + 1;
  const std::uint32_t* from = bits;
  while (low != high) {
    const range_slices cut(from, n, low, high);
    const std::uint32_t slice_low = cut.holding(k_low), slice_high = cut.holding(k_high);
    if (slice_low != slice_high) {
      // The lower slice's copy may write one past its end: the upper one starts after that.
      std::uint32_t* lower = parted;
      std::uint32_t* upper = parted + cut.histogram[slice_low] + 1;
      index_t in_lower = 0, in_upper = 0;
      cut.keep_both(from, n, slice_low, lower, in_lower, slice_high, upper, in_upper);
      return {kth_smallest_in_range(lower, in_lower, k_low, lower, cut.first_of(slice_low), cut.last_of(slice_low)),
              kth_smallest_in_range(upper, in_upper, k_high, upper, cut.first_of(slice_high), cut.last_of(slice_high))};
    }
    n = cut.keep(from, n, slice_low, work);
    from = work;
    low = cut.first_of(slice_low);
    high = cut.last_of(slice_low);
  }
  return {low, low};
}

// The smallest and largest of n >= 1 selection bits: the tightest range for
// kth_smallest_in_range.
struct bits_range {
  std::uint32_t low, high;
};

inline bits_range range_of_bits(const std::uint32_t* bits, index_t n) noexcept {
  bits_range range{bits[0], bits[0]};
  for (index_t i = 1; i < n; ++i) {
    range.low = std::min(range.low, bits[i]);
    range.high = std::max(range.high, bits[i]);
  }
  return range;
}

// Units per block of the mean's sweep: enough to sweep rows with long contiguous reads (64
// units read 512 bytes of each row; a narrower block visits every row's page as often for
// less data), and 64 at most: the sweep keeps a block's running maxima and sums in fixed
// local arrays.
inline index_t unit_block(index_t units) noexcept { return std::max<index_t>(1, std::min<index_t>(64, units)); }

// The μ matrix a finalize reads, without materialising it: row r is the sums of sample
// ids[r], each over `elements` values. S is double for fp64 sums, float where each sample's
// single value is its μ already (elements is 1 then, and to_mu gives it back unchanged).
template <class S>
struct mu_rows {
  const S* sums;              // [samples, units]
  const std::int64_t* ids;    // the rows' sample ids, increasing
  index_t units, elements;

  const S* row(index_t r) const noexcept { return sums + ids[r] * units; }
};
using mu_from_sums = mu_rows<double>;

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

  // The maximum over this set of rows and `other`'s, in any order and interleaving, as add()
  // in row order gives it: the first NaN, else the largest value at its first row.
  void merge(const running_top& other) noexcept {
    if (has_nan || other.has_nan) {
      if (other.has_nan && (!has_nan || other.row < row)) *this = other;
      return;
    }
    if (other.value > value || (other.value == value && other.row < row)) *this = other;
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

// Elements from one unit's column to the next: at least `rows`, and an odd number of cache
// lines, so that one row of many columns does not fall in one cache set (columns of 2 048
// rows lie 8 KB apart, and the sweep's stores to them evicted each other).
inline index_t column_stride(index_t rows) noexcept { return ((rows + 15) / 16 | 1) * 16; }

// Where the sweep writes unit u's bit of a row: out + u * stride + column, the row's place
// in unit u's column.
struct bits_out {
  std::uint32_t* out;
  index_t stride;
  std::uint32_t& at(index_t u, index_t column) const noexcept { return out[u * stride + column]; }
};

// Row r of the sweep, units [from, last) of a pass that starts at unit `first`: their running
// maxima (unit u's at tops[u - first]; none without track_tops) and their selection bits at
// `column` of `to`.
template <bool track_tops, class S>
void sweep_row_scalar(const mu_rows<S>& mu, const mu_from_totals& to_mu, index_t r, index_t from,
                             index_t last, index_t first, running_top* tops, bits_out to, index_t column) noexcept {
  const S* row = mu.row(r);
  for (index_t u = from; u < last; ++u) {
    const float x = to_mu(row[u]);
    if constexpr (track_tops) tops[u - first].add(x, r);
    to.at(u - first, column) = selection_bits(x);
  }
}

#if defined(__SSE2__)
// Four units' μ from a row: fp64 totals narrowed, times the reciprocal where `scaled`
// (exactly, as to_mu computes it then), or fp32 μ as it lies (its elements are 1).
template <bool scaled>
inline __m128 load_mu4(const double* at, __m128d scale) noexcept {
  const auto half = [&](const double* p) {
    return _mm_cvtpd_ps(scaled ? _mm_mul_pd(_mm_loadu_pd(p), scale) : _mm_loadu_pd(p));
  };
  return _mm_movelh_ps(half(at), half(at + 2));
}
template <bool scaled>
inline __m128 load_mu4(const float* at, __m128d) noexcept {
  return _mm_loadu_ps(at);
}

// Units u to u + 7 of a tile of median_tile_rows rows from r0 (a pass from unit `first`, as
// sweep_row_scalar), four units to a vector, for μ that is the total times an exact
// reciprocal (what to_mu computes then, value for value). Eight units rather than four: at
// U = 512 the tile's rows lie 4 KB apart, in one L1 set, and a line taken in two visits
// could be evicted between them.
// The bits of four rows are transposed in registers and stored four rows to a column.
// next_r0: the first row of the next tile, whose same units are fetched ahead (rows of a
// sample lie far apart, where the hardware does not fetch ahead), or -1 for none.
template <bool track_tops, class S>
void sweep_eight_units(const mu_rows<S>& mu, const mu_from_totals& to_mu, index_t r0, index_t next_r0,
                              index_t u, index_t first, running_top* tops, bits_out to, index_t column) noexcept {
  static_assert(median_tile_rows % 4 == 0, "rows are transposed four at a time");
  constexpr int width = 8;
  const __m128d scale = _mm_set1_pd(to_mu.reciprocal);
  const __m128i sign_bit = _mm_set1_epi32(static_cast<int>(0x80000000u));
  if constexpr (track_tops) tops += u - first;
  const auto load_tops = [&](int q) {
    if constexpr (!track_tops) return _mm_set1_ps(INFINITY);  // no lane ever wins
    return _mm_setr_ps(tops[4 * q].value, tops[4 * q + 1].value, tops[4 * q + 2].value, tops[4 * q + 3].value);
  };
  __m128 top[2] = {load_tops(0), load_tops(1)};
  int nan_seen = track_tops ? 0 : (1 << width) - 1;
  for (int lane = 0; track_tops && lane < width; ++lane) nan_seen |= tops[lane].has_nan ? 1 << lane : 0;
  __m128 bits[2][4];
  for (index_t i = 0; i < median_tile_rows; ++i) {
    const S* row = mu.row(r0 + i) + u;
    if (next_r0 >= 0) __builtin_prefetch(mu.row(next_r0 + i) + u);
    __m128 x[2];
    int wins = 0, nan_lanes = 0;
    for (int q = 0; q < 2; ++q) {
      x[q] = load_mu4<true>(row + 4 * q, scale);
      wins |= _mm_movemask_ps(_mm_cmpgt_ps(x[q], top[q])) << (4 * q);
      nan_lanes |= _mm_movemask_ps(_mm_cmpunord_ps(x[q], x[q])) << (4 * q);
    }
    // Lanes where a value may win (greater, or a unit's first NaN) take the exact path.
    if (track_tops && (wins | (nan_lanes & ~nan_seen)) != 0) {
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

// Units per pass where each unit holds `per_unit` 32-bit values (a column, or its rooms).
inline index_t median_pass_units(index_t units, index_t per_unit, std::int64_t budget) noexcept {
  const index_t fit = budget / (static_cast<std::int64_t>(sizeof(std::uint32_t)) * std::max<index_t>(1, per_unit));
  return std::min(units, std::max<index_t>(8, fit / 8 * 8));
}

// Rows [begin, end) of mu, units [first, last): their running maxima into tops (unit u's at
// tops[u - first]; none without track_tops, as for the bracket's sample, whose maxima cost
// half its sweep) and their selection bits into the columns of `to`, a row's bits at the
// row's own index.
template <bool track_tops, class S>
void sweep_into_columns(const mu_rows<S>& mu, const mu_from_totals& to_mu, index_t begin, index_t end,
                               index_t first, index_t last, running_top* tops, bits_out to) noexcept {
  const S* first_row = mu.row(begin);
  for (index_t u = first; track_tops && u < last; ++u) {
    tops[u - first] = running_top{to_mu(first_row[u]), begin, false};
  }
  index_t r0 = begin;
#if defined(__SSE2__)
  if (to_mu.exact) {
    for (; r0 + median_tile_rows <= end; r0 += median_tile_rows) {
      index_t u = first;
      const index_t next_r0 = r0 + 2 * median_tile_rows <= end ? r0 + median_tile_rows : -1;
      for (; u + 8 <= last; u += 8) sweep_eight_units<track_tops>(mu, to_mu, r0, next_r0, u, first, tops, to, r0);
      for (index_t i = r0; i < r0 + median_tile_rows; ++i) {
        sweep_row_scalar<track_tops>(mu, to_mu, i, u, last, first, tops, to, i);
      }
    }
  }
#endif
  for (; r0 < end; ++r0) sweep_row_scalar<track_tops>(mu, to_mu, r0, first, last, first, tops, to, r0);
}

// Writes a unit's maximum and its row; false where it is NaN, which makes the rest NaN too
// (comparisons would silently skip a NaN otherwise).
inline bool write_top(const running_top& top, unit_column_stats& out) noexcept {
  out.top_row = top.row;
  if (top.has_nan) {
    out.top = out.rest = static_cast<double>(NAN);
    return false;
  }
  out.top = top.value;
  return true;
}

// Scratch of a selection task: digit tallies, a histogram, a list to select in and the
// room kth_smallest_counted narrows it in.
struct selection_scratch {
  std::vector<std::uint32_t> tallies, histogram, list, work;

  selection_scratch(index_t list_capacity, index_t work_capacity)
      : tallies(4 * 2048), histogram(2048), list(static_cast<std::size_t>(list_capacity)),
        work(static_cast<std::size_t>(work_capacity)) {}
};

// The median of the others in the whole of one column's bits.
inline double median_of_others_in_column(const std::uint32_t* column, index_t rows, selection_scratch& s) noexcept {
  count_top_digits(column, rows, s.tallies.data(), s.histogram.data());
  return median_of_smallest(column, rows, rows - 1, s.histogram.data(), s.work.data());
}

// budget: bytes of columns at once (a test passes a small one to make several passes).
template <class S>
void column_medians_by_columns(const host_exec& exec, const mu_rows<S>& mu, index_t rows,
                                      unit_column_stats* stats, std::int64_t budget) {
  const index_t units = mu.units;
  const mu_from_totals to_mu(mu.elements);
  const index_t per_task = median_sweep_rows(rows);
  const index_t tasks = (rows + per_task - 1) / per_task;
  const index_t stride = column_stride(rows);
  const index_t pass_units = median_pass_units(units, stride, budget);
  // Every element is written by the sweep, so the storage is not zeroed first. (Streaming
  // the bits past the cache in whole lines was tried: small columns, read back by the
  // selection, then came from memory rather than cache; docs/benchmarks.md.)
  const std::unique_ptr<std::uint32_t[]> column_storage(new std::uint32_t[static_cast<std::size_t>(pass_units * stride)]);
  const bits_out to_columns{column_storage.get(), stride};
  std::vector<running_top> tops(static_cast<std::size_t>(tasks * pass_units));
  const selection_scratch prototype(0, rows);
  for (index_t first = 0; first < units; first += pass_units) {
    const index_t last = std::min(units, first + pass_units), width = last - first;
    parallel_for(exec, tasks, [&](index_t k) {
      const index_t begin = k * per_task, end = std::min(rows, begin + per_task);
      sweep_into_columns<true>(mu, to_mu, begin, end, first, last, tops.data() + k * width, to_columns);
    });
    parallel_for_with_scratch(exec, width, prototype, [&](index_t j, selection_scratch& s) {
      running_top top = tops[static_cast<std::size_t>(j)];
      for (index_t k = 1; k < tasks; ++k) top.merge(tops[static_cast<std::size_t>(k * width + j)]);
      if (write_top(top, stats[first + j])) stats[first + j].rest = median_of_others_in_column(&to_columns.at(j, 0), rows, s);
    });
  }
}

// ---- the median of many rows: a bracket from a sample, then one sweep ------------------
// Writing every unit's column costs as many bytes again as reading the sums, and more in
// page faults on the fresh storage (a quarter of stats/B_median_finalize_N50000_U512 in
// `perf`). With many rows a sample of them places, per unit, a bracket [low, high] that
// holds the middle ranks; one sweep of the sums then counts the values below, at or under
// low and at or under high, and keeps only those strictly between, a few percent, for the
// selection. Ties at a bracket's ends are counted, not kept, so a unit of zeros or of a
// few levels selects as fast as any. Where a bracket misses (a middle rank falls outside,
// or a task's values between overflow their room) that unit falls back to a selection over
// its whole column, so the result is the exact median either way, and so the same bits for
// every thread count.

struct median_bracketing {
  index_t sample_rows = 2048;  // rows of the sample that places the brackets
  index_t min_rows = 16384;    // fewer rows take the column path
  // A task's room per unit: 1/room_share of its rows, plus 32. An eighth overflowed where
  // a unit's middle values came as whole blocks (rows repeating every 1 024): a block of 16
  // is in the bracket or not, so a task's share varies more than row by row.
  index_t room_share = 4;
  bool avx2 = true;            // off: the SSE2 sweep even where the CPU has AVX2 (tests)
};

// Rows a task takes at a time in the bracketed sweep (bracket_block spreads the blocks):
// where samples come ordered (by class, say) and a unit's middle values cluster in some
// rows, every task still sees a share of them, so no task's room overflows.
inline constexpr index_t bracket_block_rows = 16;

// A task's counts for one unit. A NaN is in none of them and is not kept: a unit with a NaN
// is NaN whatever its selection.
struct bracket_counts {
  std::int32_t* below;          // values < low
  std::int32_t* at_most_low;    // values <= low
  std::int32_t* at_most_high;   // values <= high
  std::int32_t* between;        // values in (low, high), kept up to the room
};

// Unit j of a pass, as a task of the bracketed sweep sees it.
struct bracket_task_view {
  const float* low;
  const float* high;
  running_top* tops;
  // What a value must exceed to be compared with tops[j] (vector compares rule out the
  // rest): the larger of tops[j].value and just under the sample's largest value, which the
  // whole column's maximum is at least (a task whose values all lie below it keeps no
  // maximum, and the merge takes another task's); +inf once unit j has seen a NaN, when a
  // later value can win only by being a first NaN. Seeded with a task's own first values
  // instead, the values to compare after each block (about 16 / its number in the task)
  // made settling 30 % of stats/B_median_finalize_N50000_U512 in `perf`.
  float* top_values;
  bracket_counts counts;
  std::uint32_t* kept;  // unit j's room at kept + j * room
  index_t room;

  void add_top(index_t j, float x, index_t r) const noexcept {
    tops[j].add(x, r);
    top_values[j] = tops[j].has_nan ? INFINITY : std::max(top_values[j], tops[j].value);
  }
  void keep(index_t j, float x) const noexcept {
    std::int32_t& n = counts.between[j];
    if (n < room) kept[j * room + n] = selection_bits(x);
    ++n;
  }
  void add(index_t j, float x, index_t r) const noexcept {
    add_top(j, x, r);
    counts.below[j] += x < low[j] ? 1 : 0;
    counts.at_most_low[j] += x <= low[j] ? 1 : 0;
    counts.at_most_high[j] += x <= high[j] ? 1 : 0;
    if (x > low[j] && x < high[j]) keep(j, x);
  }
};

// Units [from, last) of row r, in a pass from unit `first`.
template <class S>
void bracket_row_scalar(const S* row, const mu_from_totals& to_mu, index_t r, index_t from, index_t last,
                        index_t first, const bracket_task_view& view) noexcept {
  for (index_t u = from; u < last; ++u) view.add(u - first, to_mu(row[u]), r);
}

// ---- the bracketed sweep in vectors: a block of rows by a group of units ---------------
// A group of units takes a block's rows one after another with its counts in registers,
// added to the task's counts once per block: read, added and stored back for every row
// (three counts, each a load and a store per vector), they made the sweep store-bound.
// Which values may take a maximum or are kept is data, a few percent of them, so a branch
// per row would be mispredicted often: the block's marks are gathered first and settled
// after it, where only the loops' exits are guesses.

// A block's values and marks for a group of `lanes` units: bit i * lanes + lane, and the
// value at that index, for row i of the block and unit `lane` of the group.
template <int lanes>
struct block_marks {
  static constexpr int words = static_cast<int>(bracket_block_rows) * lanes / 64;
  float values[bracket_block_rows * lanes];
  std::uint64_t contested[words] = {};  // may take the unit's maximum
  std::uint64_t kept[words] = {};       // strictly inside the unit's bracket

  void mark(index_t i, std::uint32_t contest, std::uint32_t between) noexcept {
    const index_t bit = i * lanes;
    contested[bit / 64] |= static_cast<std::uint64_t>(contest) << (bit % 64);
    kept[bit / 64] |= static_cast<std::uint64_t>(between) << (bit % 64);
  }
};

// Takes a block's marked values for the group from unit j0 of the pass (its first row r0):
// a unit's candidates for its maximum in row order, as running_top::add needs them.
template <int lanes>
void settle_block(const block_marks<lanes>& marks, index_t r0, index_t j0, const bracket_task_view& view) noexcept {
  for (int w = 0; w < block_marks<lanes>::words; ++w) {
    for (std::uint64_t bits = marks.contested[w]; bits != 0; bits &= bits - 1) {
      const index_t bit = w * 64 + __builtin_ctzll(bits);
      view.add_top(j0 + bit % lanes, marks.values[bit], r0 + bit / lanes);
    }
    for (std::uint64_t bits = marks.kept[w]; bits != 0; bits &= bits - 1) {
      const index_t bit = w * 64 + __builtin_ctzll(bits);
      view.keep(j0 + bit % lanes, marks.values[bit]);
    }
  }
}

// Rows of one block of a task, and the rows of its next block, read meanwhile (rows of a
// block lie a row apart; the next block's lie far away, where the hardware does not fetch
// ahead). ahead[i] is null past the next block's end.
template <class S>
struct bracket_block_view {
  const S* rows[bracket_block_rows];
  const S* ahead[bracket_block_rows];
  index_t first_row, height;
};

// Asks for the lines of `bytes` bytes from p.
inline void fetch_lines(const void* p, std::size_t bytes) noexcept {
  for (std::size_t at = 0; at < bytes; at += 64) __builtin_prefetch(static_cast<const char*>(p) + at);
}

#if defined(__SSE2__)
// Adds a comparison's true lanes (all ones, -1 as an integer) to four counts in a register.
inline __m128i count_true(__m128i counts, __m128 comparison) noexcept {
  return _mm_sub_epi32(counts, _mm_castps_si128(comparison));
}
inline void add_counts(std::int32_t* counts, __m128i block) noexcept {
  __m128i* at = reinterpret_cast<__m128i*>(counts);
  _mm_storeu_si128(at, _mm_add_epi32(_mm_loadu_si128(at), block));
}

// The block's rows over groups of eight units from `from` (a pass from unit `first`), four
// units to a vector; returns the first unit left, fewer than eight before `last`.
// scaled: μ is the total times an exact reciprocal that is not 1 (as to_mu computes it then).
template <bool scaled, class S>
index_t bracket_block_vectors(const bracket_block_view<S>& block, const mu_from_totals& to_mu, index_t from,
                              index_t first, index_t last, const bracket_task_view& view) noexcept {
  constexpr int lanes = 8, quads = lanes / 4;
  const __m128d scale = _mm_set1_pd(to_mu.reciprocal);
  index_t u = from;
  for (; u + lanes <= last; u += lanes) {
    const index_t j = u - first;
    __m128 low[quads], high[quads], top[quads];
    __m128i below[quads], at_most_low[quads], at_most_high[quads];
    for (int q = 0; q < quads; ++q) {
      low[q] = _mm_loadu_ps(view.low + j + 4 * q);
      high[q] = _mm_loadu_ps(view.high + j + 4 * q);
      top[q] = _mm_loadu_ps(view.top_values + j + 4 * q);
      below[q] = at_most_low[q] = at_most_high[q] = _mm_setzero_si128();
    }
    block_marks<lanes> marks;
    for (index_t i = 0; i < block.height; ++i) {
      if (block.ahead[i] != nullptr) fetch_lines(block.ahead[i] + u, lanes * sizeof(S));
      std::uint32_t contest = 0, between = 0;
      for (int q = 0; q < quads; ++q) {
        const __m128 x = load_mu4<scaled>(block.rows[i] + u + 4 * q, scale);
        _mm_storeu_ps(marks.values + i * lanes + 4 * q, x);
        contest |= static_cast<std::uint32_t>(_mm_movemask_ps(_mm_cmpnle_ps(x, top[q]))) << (4 * q);
        const __m128 low_or_under = _mm_cmple_ps(x, low[q]);
        below[q] = count_true(below[q], _mm_cmplt_ps(x, low[q]));
        at_most_low[q] = count_true(at_most_low[q], low_or_under);
        at_most_high[q] = count_true(at_most_high[q], _mm_cmple_ps(x, high[q]));
        between |= static_cast<std::uint32_t>(_mm_movemask_ps(_mm_andnot_ps(low_or_under, _mm_cmplt_ps(x, high[q]))))
                   << (4 * q);
      }
      marks.mark(i, contest, between);
    }
    for (int q = 0; q < quads; ++q) {
      add_counts(view.counts.below + j + 4 * q, below[q]);
      add_counts(view.counts.at_most_low + j + 4 * q, at_most_low[q]);
      add_counts(view.counts.at_most_high + j + 4 * q, at_most_high[q]);
    }
    settle_block(marks, block.first_row, j, view);
  }
  return u;
}
#endif

#if MEMLOC_HOST_AVX2_DISPATCH
inline bool host_has_avx2() noexcept {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

// load_mu4 eight units at a time.
template <bool scaled>
__attribute__((target("avx2"))) inline __m256 load_mu8_avx2(const double* at, __m256d scale) noexcept {
  __m256d lower = _mm256_loadu_pd(at), upper = _mm256_loadu_pd(at + 4);
  if (scaled) {
    lower = _mm256_mul_pd(lower, scale);
    upper = _mm256_mul_pd(upper, scale);
  }
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lower)), _mm256_cvtpd_ps(upper), 1);
}
template <bool scaled>
__attribute__((target("avx2"))) inline __m256 load_mu8_avx2(const float* at, __m256d) noexcept {
  return _mm256_loadu_ps(at);
}

__attribute__((target("avx2"))) inline __m256i count_true_avx2(__m256i counts, __m256 comparison) noexcept {
  return _mm256_sub_epi32(counts, _mm256_castps_si256(comparison));
}
__attribute__((target("avx2"))) inline void add_counts_avx2(std::int32_t* counts, __m256i block) noexcept {
  __m256i* at = reinterpret_cast<__m256i*>(counts);
  _mm256_storeu_si256(at, _mm256_add_epi32(_mm256_loadu_si256(at), block));
}

// bracket_block_vectors with groups of sixteen units, eight to a vector (the same
// comparisons, quiet where SSE's are signalling, which gives the same lanes); returns the
// first unit left, fewer than sixteen before `last`.
template <bool scaled, class S>
__attribute__((target("avx2"))) index_t bracket_block_vectors_avx2(const bracket_block_view<S>& block,
                                                                   const mu_from_totals& to_mu, index_t from,
                                                                   index_t first, index_t last,
                                                                   const bracket_task_view& view) noexcept {
  constexpr int lanes = 16, octets = lanes / 8;
  const __m256d scale = _mm256_set1_pd(to_mu.reciprocal);
  index_t u = from;
  for (; u + lanes <= last; u += lanes) {
    const index_t j = u - first;
    __m256 low[octets], high[octets], top[octets];
    __m256i below[octets], at_most_low[octets], at_most_high[octets];
    for (int q = 0; q < octets; ++q) {
      low[q] = _mm256_loadu_ps(view.low + j + 8 * q);
      high[q] = _mm256_loadu_ps(view.high + j + 8 * q);
      top[q] = _mm256_loadu_ps(view.top_values + j + 8 * q);
      below[q] = at_most_low[q] = at_most_high[q] = _mm256_setzero_si256();
    }
    block_marks<lanes> marks;
    for (index_t i = 0; i < block.height; ++i) {
      if (block.ahead[i] != nullptr) fetch_lines(block.ahead[i] + u, lanes * sizeof(S));
      std::uint32_t contest = 0, between = 0;
      for (int q = 0; q < octets; ++q) {
        const __m256 x = load_mu8_avx2<scaled>(block.rows[i] + u + 8 * q, scale);
        _mm256_storeu_ps(marks.values + i * lanes + 8 * q, x);
        contest |= static_cast<std::uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(x, top[q], _CMP_NLE_UQ))) << (8 * q);
        const __m256 low_or_under = _mm256_cmp_ps(x, low[q], _CMP_LE_OQ);
        below[q] = count_true_avx2(below[q], _mm256_cmp_ps(x, low[q], _CMP_LT_OQ));
        at_most_low[q] = count_true_avx2(at_most_low[q], low_or_under);
        at_most_high[q] = count_true_avx2(at_most_high[q], _mm256_cmp_ps(x, high[q], _CMP_LE_OQ));
        between |= static_cast<std::uint32_t>(
                       _mm256_movemask_ps(_mm256_andnot_ps(low_or_under, _mm256_cmp_ps(x, high[q], _CMP_LT_OQ))))
                   << (8 * q);
      }
      marks.mark(i, contest, between);
    }
    for (int q = 0; q < octets; ++q) {
      add_counts_avx2(view.counts.below + j + 8 * q, below[q]);
      add_counts_avx2(view.counts.at_most_low + j + 8 * q, at_most_low[q]);
      add_counts_avx2(view.counts.at_most_high + j + 8 * q, at_most_high[q]);
    }
    settle_block(marks, block.first_row, j, view);
  }
  return u;
}
#endif

// Tasks of the bracketed sweep over `blocks` blocks of rows: at most 64, so the tasks, and
// so every intermediate, depend on the row count alone.
inline index_t bracket_tasks(index_t blocks) noexcept { return std::max<index_t>(1, std::min<index_t>(64, blocks)); }

// A fixed scramble of an integer (the finalizer of splitmix64): offsets that follow no
// period, the same in every run.
inline std::uint64_t scrambled(std::uint64_t x) noexcept {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The block a task takes in a round of `tasks` consecutive blocks: one each, the round
// rotated by a scrambled amount (none in round 0, so a task's first block is its first
// row's). A fixed task per block position would put the same rows of every 64 blocks in one
// task, and data that repeats with such a period (batches of 1 024 samples in a fixed
// order) would overflow that task's room.
inline index_t bracket_block(index_t round, index_t task, index_t tasks) noexcept {
  const auto shift = round == 0 ? index_t{0} : static_cast<index_t>(scrambled(static_cast<std::uint64_t>(round)) %
                                                                   static_cast<std::uint64_t>(tasks));
  return round * tasks + (task + shift) % tasks;
}

// Row i of the bracketing sample: a scrambled row of the i-th of sample_rows equal stretches
// (rows > sample_rows), so that data repeating with a period that divides the stretch is not
// sampled at one phase only.
inline index_t bracket_sample_row(index_t i, index_t rows, index_t sample_rows) noexcept {
  const index_t begin = i * rows / sample_rows, span = (i + 1) * rows / sample_rows - begin;
  return begin + static_cast<index_t>(scrambled(static_cast<std::uint64_t>(i)) % static_cast<std::uint64_t>(span));
}

// The sample rank that bounds a bracket around population rank `rank` of `rows`: four
// standard deviations of a sample rank beyond the expected one, and one more rank.
inline index_t bracket_sample_rank(index_t rank, index_t rows, index_t sample_rows, int side) noexcept {
  const double p = (static_cast<double>(rank) + 0.5) / static_cast<double>(rows);
  const double spread = 4.0 * std::sqrt(static_cast<double>(sample_rows) * p * (1.0 - p)) + 1.0;
  const double expected = p * static_cast<double>(sample_rows) + side * spread;
  return std::min<index_t>(sample_rows - 1, std::max<index_t>(0, static_cast<index_t>(expected)));
}

// What a value must exceed to be compared with a task's maximum, given the largest value of
// the sample (which the column's maximum is at least): just under it, so that a tie with it
// is compared. Never a subnormal or zero, which a CPU that treats subnormals as zero
// (-ffast-math, torch.set_flush_denormal) would read as 0 in the vector compares, and zeros
// would then never take the maximum; -FLT_MIN there only lets more values be compared. +inf
// for a NaN, where only a first NaN can win.
inline float top_threshold(float sample_top) noexcept {
  if (sample_top != sample_top) return INFINITY;
  const float below = std::nextafter(sample_top, -INFINITY);
  return std::fabs(below) < FLT_MIN ? -FLT_MIN : below;
}

// Returns how many units fell back to their whole column.
template <class S>
index_t bracketed_medians(const host_exec& exec, const mu_rows<S>& mu, index_t rows, unit_column_stats* stats,
                                 std::int64_t budget, const median_bracketing& how) {
  const index_t units = mu.units;
  const mu_from_totals to_mu(mu.elements);
  const index_t blocks = (rows + bracket_block_rows - 1) / bracket_block_rows;
  const index_t tasks = bracket_tasks(blocks);
  const index_t task_rows = (blocks + tasks - 1) / tasks * bracket_block_rows;  // the most any task takes
  const index_t room = task_rows / how.room_share + 32;
  // The others' middle ranks in the whole column (its maximum is its largest value).
  const index_t others = rows - 1, upper_rank = others / 2, lower_rank = others % 2 == 0 ? upper_rank - 1 : upper_rank;
  const index_t sample_low = bracket_sample_rank(lower_rank, rows, how.sample_rows, -1);
  const index_t sample_high = bracket_sample_rank(upper_rank, rows, how.sample_rows, +1);
  const index_t pass_units = median_pass_units(units, tasks * room, budget);
#if MEMLOC_HOST_AVX2_DISPATCH
  const bool wide = how.avx2 && host_has_avx2();
#endif

  // The sample, read as a μ matrix of its own.
  std::vector<std::int64_t> sample_ids(static_cast<std::size_t>(how.sample_rows));
  for (index_t i = 0; i < how.sample_rows; ++i) {
    sample_ids[static_cast<std::size_t>(i)] = mu.ids[bracket_sample_row(i, rows, how.sample_rows)];
  }
  const mu_rows<S> sample{mu.sums, sample_ids.data(), units, mu.elements};
  const index_t sample_per_task = median_sweep_rows(how.sample_rows);
  const index_t sample_tasks = (how.sample_rows + sample_per_task - 1) / sample_per_task;

  const std::unique_ptr<std::uint32_t[]> sample_columns(
      new std::uint32_t[static_cast<std::size_t>(pass_units * column_stride(how.sample_rows))]);
  const std::unique_ptr<std::uint32_t[]> kept(new std::uint32_t[static_cast<std::size_t>(tasks * pass_units * room)]);
  std::vector<running_top> tops(static_cast<std::size_t>(tasks * pass_units));
  std::vector<float> low(static_cast<std::size_t>(pass_units)), high(low.size()), top_seed(low.size());
  std::vector<float> top_values(static_cast<std::size_t>(tasks * pass_units));
  // Four counts per task and unit, one array after another.
  std::vector<std::int32_t> counts(static_cast<std::size_t>(4 * tasks * pass_units));
  const auto counts_of = [&](index_t k, index_t width) {
    std::int32_t* c = counts.data() + 4 * k * width;
    return bracket_counts{c, c + width, c + 2 * width, c + 3 * width};
  };
  const selection_scratch sample_scratch(0, 2 * how.sample_rows + 3), kept_scratch(tasks * room, tasks * room);
  struct selected_unit {
    index_t unit;                    // of the pass
    index_t at_most_low, between;    // over all tasks
  };
  std::vector<selected_unit> selected;
  std::vector<index_t> missed;  // units of any pass

  for (index_t first = 0; first < units; first += pass_units) {
    const index_t last = std::min(units, first + pass_units), width = last - first;
    const bits_out to_sample{sample_columns.get(), column_stride(how.sample_rows)};
    parallel_for(exec, sample_tasks, [&](index_t k) {
      const index_t begin = k * sample_per_task, end = std::min(how.sample_rows, begin + sample_per_task);
      sweep_into_columns<false>(sample, to_mu, begin, end, first, last, nullptr, to_sample);
    });
    parallel_for_with_scratch(exec, width, sample_scratch, [&](index_t j, selection_scratch& s) {
      const std::uint32_t* column = &to_sample.at(j, 0);
      const bits_range range = range_of_bits(column, how.sample_rows);
      const bits_pair ends =
          kth_pair_in_range(column, how.sample_rows, sample_low, sample_high, s.work.data(), range.low, range.high);
      low[static_cast<std::size_t>(j)] = value_from_order_preserving_bits(ends.low);
      high[static_cast<std::size_t>(j)] = value_from_order_preserving_bits(ends.high);
      top_seed[static_cast<std::size_t>(j)] = top_threshold(value_from_order_preserving_bits(range.high));
    });

    std::fill(counts.begin(), counts.end(), 0);
    parallel_for(exec, tasks, [&](index_t k) {
      const bracket_task_view view{low.data(), high.data(), tops.data() + k * width, top_values.data() + k * width,
                                   counts_of(k, width), kept.get() + k * width * room, room};
      // -inf at the task's first row, which a task with no value above the seed keeps: it
      // loses the merge to any value, and where all are -inf, task 0's row 0 is the first.
      std::fill(view.tops, view.tops + width, running_top{-INFINITY, k * bracket_block_rows, false});
      std::copy(top_seed.begin(), top_seed.begin() + width, view.top_values);
      for (index_t round = 0; round * tasks < blocks; ++round) {
        const index_t b = bracket_block(round, k, tasks), next_b = bracket_block(round + 1, k, tasks);
        if (b >= blocks) continue;  // the last round may have fewer blocks than tasks
        bracket_block_view<S> block;
        block.first_row = b * bracket_block_rows;
        block.height = std::min(bracket_block_rows, rows - block.first_row);
        for (index_t i = 0; i < block.height; ++i) {
          const index_t ahead = next_b * bracket_block_rows + i;
          block.rows[i] = mu.row(block.first_row + i);
          block.ahead[i] = next_b < blocks && ahead < rows ? mu.row(ahead) : nullptr;
        }
        index_t u = first;
#if defined(__SSE2__)
        const bool scaled = to_mu.elements != 1;
#if MEMLOC_HOST_AVX2_DISPATCH
        if (wide && to_mu.exact) {
          u = scaled ? bracket_block_vectors_avx2<true>(block, to_mu, u, first, last, view)
                     : bracket_block_vectors_avx2<false>(block, to_mu, u, first, last, view);
        }
#endif
        if (to_mu.exact) {
          u = scaled ? bracket_block_vectors<true>(block, to_mu, u, first, last, view)
                     : bracket_block_vectors<false>(block, to_mu, u, first, last, view);
        }
#endif
        for (index_t i = 0; i < block.height; ++i) {
          bracket_row_scalar(block.rows[i], to_mu, block.first_row + i, u, last, first, view);
        }
      }
    });

    // Each unit's maximum and counts over the tasks, and whether its bracket holds the middle.
    selected.clear();
    for (index_t j = 0; j < width; ++j) {
      running_top top = tops[static_cast<std::size_t>(j)];
      index_t below = 0, at_most_low = 0, at_most_high = 0, between = 0;
      bool overflow = false;
      for (index_t k = 0; k < tasks; ++k) {
        if (k > 0) top.merge(tops[static_cast<std::size_t>(k * width + j)]);
        const bracket_counts c = counts_of(k, width);
        below += c.below[j];
        at_most_low += c.at_most_low[j];
        at_most_high += c.at_most_high[j];
        between += c.between[j];
        overflow |= c.between[j] > room;
      }
      if (!write_top(top, stats[first + j])) continue;
      if (!overflow && below <= lower_rank && upper_rank < at_most_high) {
        selected.push_back({j, at_most_low, between});
      } else {
        missed.push_back(first + j);
      }
    }
    parallel_for_with_scratch(exec, static_cast<index_t>(selected.size()), kept_scratch, [&](index_t i, selection_scratch& s) {
      const selected_unit& unit = selected[static_cast<std::size_t>(i)];
      const index_t j = unit.unit;
      index_t n = 0;
      for (index_t k = 0; k < tasks; ++k) {
        const std::uint32_t* from = kept.get() + (k * width + j) * room;
        n = static_cast<index_t>(std::copy(from, from + counts_of(k, width).between[j], s.list.data() + n) - s.list.data());
      }
      const std::uint32_t low_bits = selection_bits(low[static_cast<std::size_t>(j)]);
      const std::uint32_t high_bits = selection_bits(high[static_cast<std::size_t>(j)]);
      // Ranks [below, at_most_low) are low, the next `between` are kept, the rest up to
      // at_most_high are high; kept values lie strictly between, which bounds their selection.
      stats[first + j].rest = median_by_ranks(others, [&](index_t rank) {
        if (rank < unit.at_most_low) return low_bits;
        if (rank >= unit.at_most_low + unit.between) return high_bits;
        return kth_smallest_in_range(s.list.data(), n, rank - unit.at_most_low, s.work.data(), low_bits, high_bits);
      });
    });
  }
  if (missed.empty()) return 0;
  // Where the bracket missed: the whole column, read down the rows.
  parallel_for_with_scratch(exec, static_cast<index_t>(missed.size()), selection_scratch(rows, rows),
                            [&](index_t i, selection_scratch& s) {
                              const index_t u = missed[static_cast<std::size_t>(i)];
                              for (index_t r = 0; r < rows; ++r) {
                                s.list[static_cast<std::size_t>(r)] = selection_bits(to_mu(mu.row(r)[u]));
                              }
                              stats[u].rest = median_of_others_in_column(s.list.data(), rows, s);
                            });
  return static_cast<index_t>(missed.size());
}

// budget: bytes of columns (or kept values) at once; a test passes a small one to make
// several passes, and its own bracketing to take either path at small sizes.
template <class S>
void column_medians(const host_exec& exec, const mu_rows<S>& mu, index_t rows, unit_column_stats* stats,
                           std::int64_t budget = median_columns_budget, const median_bracketing& how = {}) {
  if (rows < how.min_rows || rows <= how.sample_rows) {
    column_medians_by_columns(exec, mu, rows, stats, budget);
  } else {
    bracketed_medians(exec, mu, rows, stats, budget, how);
  }
}

// Writes stats[u] for every unit: the median of the others, or their mean. A NaN anywhere
// in a column makes both its maximum and its rest NaN (comparisons would silently skip it
// otherwise).
template <class S>
void column_stats(const host_exec& exec, const mu_rows<S>& mu, index_t rows, rest_reduction rest,
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
    const S* tile[column_tile_rows];
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
