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

// The k-th smallest (0-based) of n values that hold no NaN, as selection_bits (-0 taken as +0), by
// radix selection on three digits (11, 11 and 10 bits): a histogram of every value for the
// top digit, then of ever fewer candidates. About two sweeps of the values where
// std::nth_element's partitions cost several, with a mispredicted branch per comparison.
// candidates has room for n values.
inline std::uint32_t kth_smallest_bits(const float* values, index_t n, index_t k, std::uint32_t* candidates) noexcept {
  // Four interleaved histograms, so that a run of equal top digits (values of one sign and
  // binade) does not chain every increment through one counter. Sample ids fit in 32 bits
  // (the packed argmax keys hold them), and so do these counts.
  std::uint32_t histogram[4][2048] = {};
  index_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int l = 0; l < 4; ++l) ++histogram[l][selection_bits(values[i + l]) >> 21];
  }
  for (; i < n; ++i) ++histogram[0][selection_bits(values[i]) >> 21];
  const std::uint32_t top = digit_holding_rank(
      [&](std::uint32_t d) { return index_t{histogram[0][d]} + histogram[1][d] + histogram[2][d] + histogram[3][d]; },
      2048u, k);
  index_t count = 0;
  for (i = 0; i < n; ++i) {
    const std::uint32_t bits = selection_bits(values[i]);
    if ((bits >> 21) == top) candidates[count++] = bits;
  }
  count = narrow_by_digit(candidates, count, k, 10, 11);
  narrow_by_digit(candidates, count, k, 0, 10);
  return candidates[0];
}

// Median of values[0, n) (n >= 1, no NaN), the mean of the two middle values when n is even,
// as numpy does.
inline double median_of(const float* values, index_t n, std::uint32_t* candidates) noexcept {
  const index_t k = n / 2;
  const std::uint32_t upper = kth_smallest_bits(values, n, k, candidates);
  const double upper_value = value_from_order_preserving_bits(upper);
  if (n % 2 == 1) return upper_value;
  // The lower middle value is the largest below the upper one, unless fewer than k values
  // lie below it: then it ties with the upper one.
  index_t below = 0;
  std::uint32_t lower = 0;
  for (index_t i = 0; i < n; ++i) {
    const std::uint32_t bits = selection_bits(values[i]);
    if (bits < upper) {
      ++below;
      lower = std::max(lower, bits);
    }
  }
  if (below < k) return upper_value;
  return middle_mean(static_cast<double>(value_from_order_preserving_bits(lower)), upper_value);
}

// Units per block: enough to sweep rows with long contiguous reads and, for the median,
// few enough that a block's transposed columns stay around 16 MB per thread.
inline index_t unit_block(index_t rows, index_t units, rest_reduction rest) noexcept {
  // 64 at most: the sweep keeps a block's running maxima and sums in fixed local arrays.
  const index_t by_memory = rest == rest_reduction::median ? (index_t{1} << 22) / (rows > 0 ? rows : 1) : 64;
  return std::max<index_t>(1, std::min<index_t>({64, units, by_memory}));
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
  const index_t block = unit_block(rows, units, rest);
  const index_t blocks = (units + block - 1) / block;
  struct scratch_type {
    std::vector<float> columns;  // the block transposed, for the median
    std::vector<std::uint32_t> candidates;
  };
  scratch_type prototype;
  if (rest == rest_reduction::median) {
    prototype.columns.resize(static_cast<std::size_t>(block * rows));
    prototype.candidates.resize(static_cast<std::size_t>(rows));
  }
  const bool keep_columns = rest == rest_reduction::median;
  parallel_for_with_scratch(exec, blocks, prototype, [&](index_t k, scratch_type& s) {
    const index_t first = k * block;
    const index_t width = std::min(block, units - first);
    float top[64];
    index_t top_row[64];
    double sum[64];
    bool has_nan[64];
    for (index_t j = 0; j < width; ++j) {
      top[j] = mu_from_total(mu.row(0)[first + j], mu.elements);
      top_row[j] = 0;
      sum[j] = 0.0;
      has_nan[j] = false;
    }
    const double* tile[column_tile_rows];
    for (index_t r0 = 0; r0 < rows; r0 += column_tile_rows) {
      const index_t height = std::min(column_tile_rows, rows - r0);
      for (index_t i = 0; i < height; ++i) tile[i] = mu.row(r0 + i) + first;
      for (index_t j = 0; j < width; ++j) {
        float* column = keep_columns ? s.columns.data() + j * rows + r0 : nullptr;
        for (index_t i = 0; i < height; ++i) {
          const float x = mu_from_total(tile[i][j], mu.elements);
          // The first NaN wins the maximum, as it does for the packed keys of per_unit storage.
          const bool first_nan = x != x && !has_nan[j];
          has_nan[j] |= x != x;
          sum[j] += static_cast<double>(x);
          if (x > top[j] || first_nan) {
            top[j] = x;
            top_row[j] = r0 + i;
          }
          if (keep_columns) column[i] = x;
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
      if (rest == rest_reduction::mean) {
        out.rest = mean_of_others(sum[j], out.top, rows);
      } else {
        // Move the one argmax instance to the end, then take the median of the others.
        float* column = s.columns.data() + j * rows;
        std::swap(column[out.top_row], column[rows - 1]);
        out.rest = median_of(column, rows - 1, s.candidates.data());
      }
    }
  });
}

}  // namespace memloc::detail::host
