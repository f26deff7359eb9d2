#pragma once

// Per-unit statistics over a μ[samples, units] matrix (row-major): the maximum with its
// first index, and the mean or median of the other samples.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../../exec.hpp"
#include "../../options.hpp"
#include "../../view.hpp"
#include "parallel.hpp"

namespace memloc::detail::host {

struct unit_column_stats {
  double top;        // μ_max
  index_t top_row;   // first row holding μ_max
  double rest;       // μ_-max
};

// Median of values[0, n) (n >= 1), the mean of the two middle values when n is even, as
// numpy does. Reorders values.
inline double median_in_place(float* values, index_t n) {
  float* middle = values + n / 2;
  std::nth_element(values, middle, values + n);
  const double upper = *middle;
  if (n % 2 == 1) return upper;
  const double lower = *std::max_element(values, middle);
  return 0.5 * (lower + upper);
}

// Statistics of column u over `rows` rows. A NaN anywhere in the column makes both the
// maximum and the rest NaN (comparisons would silently skip it otherwise).
inline unit_column_stats column_stats(const float* mu, index_t rows, index_t units, index_t u, rest_reduction rest,
                                      std::vector<float>& others) {
  index_t top_row = 0;
  float top = mu[u];
  double sum = 0.0;
  bool has_nan = false;
  for (index_t r = 0; r < rows; ++r) {
    const float x = mu[r * units + u];
    has_nan |= std::isnan(x);
    sum += static_cast<double>(x);
    if (x > top) {
      top = x;
      top_row = r;
    }
  }
  if (has_nan) return {static_cast<double>(NAN), top_row, static_cast<double>(NAN)};
  if (rest == rest_reduction::mean) return {top, top_row, (sum - top) / static_cast<double>(rows - 1)};
  others.clear();
  for (index_t r = 0; r < rows; ++r) {
    if (r != top_row) others.push_back(mu[r * units + u]);
  }
  return {top, top_row, median_in_place(others.data(), rows - 1)};
}

}  // namespace memloc::detail::host
