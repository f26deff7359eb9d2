#pragma once

// SSLMem scores of a set of samples from their SSL_f and SSL_g. The range and max
// normalisations divide by a statistic of the whole set, so they are set-level operations.

#include <cmath>
#include <vector>

#include "../../options.hpp"
#include "../../view.hpp"
#include "../alignment_checks.hpp"
#include "../formulas.hpp"
#include "../validate.hpp"

namespace memloc::detail::host {

// Divides every value by `scale` under the policy of set_division_for.
inline void divide_by_set_statistic(const char* function, const char* what, std::vector<double>& values, double scale) {
  bool any_nan = false, all_zero = true;
  for (const double v : values) {
    any_nan |= std::isnan(v);
    all_zero &= v == 0.0;
  }
  const set_division division = set_division_for(any_nan, all_zero, scale);
  check_set_statistic(function, what, division, scale);
  for (double& v : values) v = divided(division, v, scale);
}

template <class F, class G>
void sslmem_scores(const char* function, const F& ssl_f, const G& ssl_g, const sslmem_options& options,
                   std::vector<double>& scores) {
  const index_t n = ssl_f.extent(0);
  scores.resize(static_cast<std::size_t>(n));
  auto minmax = [&](const std::vector<double>& v, double& lo, double& hi) {
    lo = v.empty() ? 0.0 : v[0];
    hi = lo;
    for (const double x : v) {
      lo = x < lo ? x : lo;
      hi = x > hi ? x : hi;
    }
  };
  switch (options.normalization) {
    case sslmem_normalization::none:
      for (index_t i = 0; i < n; ++i) scores[static_cast<std::size_t>(i)] = sslmem_difference(ssl_f(i), ssl_g(i));
      break;
    case sslmem_normalization::ratio:
      for (index_t i = 0; i < n; ++i) scores[static_cast<std::size_t>(i)] = sslmem_ratio(ssl_f(i), ssl_g(i));
      break;
    case sslmem_normalization::range: {
      for (index_t i = 0; i < n; ++i) scores[static_cast<std::size_t>(i)] = sslmem_difference(ssl_f(i), ssl_g(i));
      double lo = 0.0, hi = 0.0;
      minmax(scores, lo, hi);
      divide_by_set_statistic(function, range_statistic, scores, hi - lo);
      break;
    }
    case sslmem_normalization::max: {
      std::vector<double> f(static_cast<std::size_t>(n)), g(static_cast<std::size_t>(n));
      for (index_t i = 0; i < n; ++i) {
        f[static_cast<std::size_t>(i)] = ssl_f(i);
        g[static_cast<std::size_t>(i)] = ssl_g(i);
      }
      double lo = 0.0, f_max = 0.0, g_max = 0.0, d_max = 0.0;
      minmax(f, lo, f_max);
      minmax(g, lo, g_max);
      divide_by_set_statistic(function, max_f_statistic, f, f_max);
      divide_by_set_statistic(function, max_g_statistic, g, g_max);
      for (std::size_t i = 0; i < scores.size(); ++i) scores[i] = sslmem_difference(f[i], g[i]);
      minmax(scores, lo, d_max);
      divide_by_set_statistic(function, max_difference_statistic, scores, d_max);
      break;
    }
  }
  if (options.clamp01) {
    for (double& s : scores) s = clamp01(s);
  }
}

}  // namespace memloc::detail::host
