#pragma once

// SSLMem scores of a set of samples from their SSL_f and SSL_g. The range and max
// normalisations divide by a statistic of the whole set, so they are set-level operations.

#include <cmath>
#include <vector>

#include "../../options.hpp"
#include "../../view.hpp"
#include "../formulas.hpp"
#include "../validate.hpp"

namespace memloc::detail::host {

// Divides every value by `scale`, with the documented policy for a degenerate scale:
// all-zero values stay 0 (0/0 -> 0); otherwise a non-positive scale is an error.
inline void divide_by_set_statistic(const char* function, const char* what, std::vector<double>& values, double scale) {
  bool any_nan = false, all_zero = true;
  for (const double v : values) {
    any_nan |= std::isnan(v);
    all_zero &= v == 0.0;
  }
  if (any_nan) {
    for (double& v : values) v = NAN;  // the set statistic is undefined, so is every score
    return;
  }
  if (all_zero) return;
  if (!(scale > 0.0)) fail(function, what, " must be > 0 to normalise the scores, got ", scale);
  for (double& v : values) v /= scale;
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
      divide_by_set_statistic(function, "the range of SSL_g - SSL_f (max - min)", scores, hi - lo);
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
      divide_by_set_statistic(function, "max SSL_f", f, f_max);
      divide_by_set_statistic(function, "max SSL_g", g, g_max);
      for (std::size_t i = 0; i < scores.size(); ++i) scores[i] = sslmem_difference(f[i], g[i]);
      minmax(scores, lo, d_max);
      divide_by_set_statistic(function, "max of SSL_g/max SSL_g - SSL_f/max SSL_f", scores, d_max);
      break;
    }
  }
  if (options.clamp01) {
    for (double& s : scores) s = clamp01(s);
  }
}

}  // namespace memloc::detail::host
