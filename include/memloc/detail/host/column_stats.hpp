#pragma once

// Per-unit statistics over a μ[rows, units] matrix (row-major): the maximum with its first
// row, and the mean or median of the other rows. Units are processed in blocks that are
// swept row by row, so the matrix is read in memory order rather than one column at a time.

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

// Median of values[0, n) (n >= 1), the mean of the two middle values when n is even, as
// numpy does. Reorders values.
inline double median_in_place(float* values, index_t n) noexcept {
  float* middle = values + n / 2;
  std::nth_element(values, middle, values + n);
  const double upper = *middle;
  if (n % 2 == 1) return upper;
  const double lower = *std::max_element(values, middle);
  return 0.5 * (lower + upper);
}

// Units per block: enough to sweep rows with long contiguous reads and, for the median,
// few enough that a block's transposed columns stay around 16 MB per thread.
inline index_t unit_block(index_t rows, index_t units, rest_reduction rest) noexcept {
  const index_t by_memory = rest == rest_reduction::median ? (index_t{1} << 22) / (rows > 0 ? rows : 1) : 64;
  return std::max<index_t>(1, std::min<index_t>({64, units, by_memory}));
}

// Writes stats[u] for every unit. A NaN anywhere in a column makes both its maximum and
// its rest NaN (comparisons would silently skip it otherwise).
inline void column_stats(const host_exec& exec, const float* mu, index_t rows, index_t units, rest_reduction rest,
                         unit_column_stats* stats) {
  const index_t block = unit_block(rows, units, rest);
  const index_t blocks = (units + block - 1) / block;
  struct scratch_type {
    std::vector<float> top;
    std::vector<index_t> top_row;
    std::vector<double> sum;
    std::vector<unsigned char> has_nan;
    std::vector<float> columns;  // the block transposed, for the median
  };
  scratch_type prototype;
  prototype.top.resize(static_cast<std::size_t>(block));
  prototype.top_row.resize(static_cast<std::size_t>(block));
  prototype.sum.resize(static_cast<std::size_t>(block));
  prototype.has_nan.resize(static_cast<std::size_t>(block));
  if (rest == rest_reduction::median) prototype.columns.resize(static_cast<std::size_t>(block * rows));
  parallel_for_with_scratch(exec, blocks, prototype, [&](index_t k, scratch_type& s) {
    const index_t first = k * block;
    const index_t width = std::min(block, units - first);
    for (index_t j = 0; j < width; ++j) {
      s.top[static_cast<std::size_t>(j)] = mu[first + j];
      s.top_row[static_cast<std::size_t>(j)] = 0;
      s.sum[static_cast<std::size_t>(j)] = 0.0;
      s.has_nan[static_cast<std::size_t>(j)] = 0;
    }
    for (index_t r = 0; r < rows; ++r) {
      const float* row = mu + r * units + first;
      for (index_t j = 0; j < width; ++j) {
        const float x = row[j];
        const auto jj = static_cast<std::size_t>(j);
        // The first NaN wins the maximum, as it does for the packed keys of per_unit storage.
        const bool first_nan = x != x && !s.has_nan[jj];
        s.has_nan[jj] |= static_cast<unsigned char>(x != x);
        s.sum[jj] += static_cast<double>(x);
        if (x > s.top[jj] || first_nan) {
          s.top[jj] = x;
          s.top_row[jj] = r;
        }
        if (rest == rest_reduction::median) s.columns[static_cast<std::size_t>(j * rows + r)] = x;
      }
    }
    for (index_t j = 0; j < width; ++j) {
      const auto jj = static_cast<std::size_t>(j);
      unit_column_stats& out = stats[first + j];
      out.top_row = s.top_row[jj];
      if (s.has_nan[jj]) {
        out.top = out.rest = static_cast<double>(NAN);
        continue;
      }
      out.top = s.top[jj];
      if (rest == rest_reduction::mean) {
        out.rest = mean_of_others(s.sum[jj], out.top, rows);
      } else {
        // Move the one argmax instance to the end, then take the median of the others.
        float* column = s.columns.data() + j * rows;
        std::swap(column[out.top_row], column[rows - 1]);
        out.rest = median_in_place(column, rows - 1);
      }
    }
  });
}

}  // namespace memloc::detail::host
