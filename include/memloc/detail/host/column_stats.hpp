#pragma once

// Per-unit statistics over a μ[rows, units] matrix (row-major, read from per-sample sums):
// the maximum with its first row, and the mean or median of the other rows. Units are
// processed in blocks that are swept a tile of rows at a time, so the matrix is read in
// memory order rather than one column at a time.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

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
// of their top 11-bit digits, counted while the column was written: a sweep that keeps the
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

// Units per block: enough to sweep rows with long contiguous reads (64 units read 512 bytes
// of each row; a narrower block visits every row's page as often for less data). The median
// of at most 256 units takes blocks of a quarter of them, at least 16, so that U = 64 makes
// four tasks for the threads to share rather than one.
inline index_t unit_block(index_t units, rest_reduction rest) noexcept {
  // 64 at most: the sweep keeps a block's running maxima and sums in fixed local arrays.
  const index_t widest = rest == rest_reduction::median ? std::max<index_t>(16, units / 4) : 64;
  return std::max<index_t>(1, std::min<index_t>({64, widest, units}));
}

// The μ matrix a finalize reads, without materialising it: row r is the sums of sample
// ids[r], each over `elements` values.
struct mu_from_sums {
  const double* sums;         // [samples, units]
  const std::int64_t* ids;    // the rows' sample ids, increasing
  index_t units, elements;

  const double* row(index_t r) const noexcept { return sums + ids[r] * units; }
};

// Rows read per tile of a column block: the tile's part of the block (16 rows of at most
// 64 fp64 sums) stays in L1 while it is transposed, and each column receives 16 contiguous
// values, a cache line, rather than one value per row.
inline constexpr index_t column_tile_rows = 16;

// Writes stats[u] for every unit. A NaN anywhere in a column makes both its maximum and
// its rest NaN (comparisons would silently skip it otherwise).
inline void column_stats(const host_exec& exec, const mu_from_sums& mu, index_t rows, rest_reduction rest,
                         unit_column_stats* stats) {
  const index_t units = mu.units;
  const index_t block = unit_block(units, rest);
  const index_t blocks = (units + block - 1) / block;
  const bool median = rest == rest_reduction::median;
  struct scratch_type {
    std::vector<std::uint32_t> columns;     // the block transposed as selection bits, for the median
    std::vector<std::uint32_t> histograms;  // per unit of the block, counts of the top 11-bit digit
    std::vector<std::uint32_t> candidates;
  };
  scratch_type prototype;
  if (median) {
    prototype.columns.resize(static_cast<std::size_t>(block * rows));
    prototype.histograms.resize(static_cast<std::size_t>(block * 2048));
    prototype.candidates.resize(static_cast<std::size_t>(rows));
  }
  parallel_for_with_scratch(exec, blocks, prototype, [&](index_t k, scratch_type& s) {
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
    if (median) std::fill(s.histograms.begin(), s.histograms.end(), 0u);
    const double* tile[column_tile_rows];
    for (index_t r0 = 0; r0 < rows; r0 += column_tile_rows) {
      const index_t height = std::min(column_tile_rows, rows - r0);
      for (index_t i = 0; i < height; ++i) tile[i] = mu.row(r0 + i) + first;
      for (index_t j = 0; j < width; ++j) {
        std::uint32_t* column = median ? s.columns.data() + j * rows + r0 : nullptr;
        std::uint32_t* histogram = median ? s.histograms.data() + j * 2048 : nullptr;
        for (index_t i = 0; i < height; ++i) {
          const float x = to_mu(tile[i][j]);
          // The first NaN wins the maximum, as it does for the packed keys of per_unit storage.
          const bool first_nan = x != x && !has_nan[j];
          has_nan[j] |= x != x;
          if (x > top[j] || first_nan) {
            top[j] = x;
            top_row[j] = r0 + i;
          }
          if (median) {
            const std::uint32_t bits = selection_bits(x);
            column[i] = bits;
            ++histogram[bits >> 21];
          } else {
            sum[j] += static_cast<double>(x);
          }
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
      if (!median) {
        out.rest = mean_of_others(sum[j], out.top, rows);
        continue;
      }
      out.rest = median_of_smallest(s.columns.data() + j * rows, rows, rows - 1, s.histograms.data() + j * 2048,
                                    s.candidates.data());
    }
  });
}

}  // namespace memloc::detail::host
