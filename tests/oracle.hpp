#pragma once

// The test oracle: every metric written as plainly as possible, with plain loops in double
// precision and no code shared with memloc (it includes no memloc header and no Eigen).
// Inputs are logical row-major tensors of doubles; the backends must agree with these.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace oracle {

const double nan = std::numeric_limits<double>::quiet_NaN();

// Logical [samples, views, units, positions] activations.
struct activations {
  std::int64_t samples = 0, views = 0, units = 0, positions = 0;
  std::vector<double> values;
  double at(std::int64_t n, std::int64_t v, std::int64_t u, std::int64_t s) const {
    return values[static_cast<std::size_t>(((n * views + v) * units + u) * positions + s)];
  }
};

// Logical [samples, views, features] representations.
struct representations {
  std::int64_t samples = 0, views = 0, features = 0;
  std::vector<double> values;
  double at(std::int64_t n, std::int64_t v, std::int64_t k) const {
    return values[static_cast<std::size_t>((n * views + v) * features + k)];
  }
};

enum class transform { none, relu, abs };

inline double apply(transform t, double x) {
  if (t == transform::relu) return x > 0 ? x : (x == x ? 0.0 : x);
  if (t == transform::abs) return std::fabs(x);
  return x;
}

// μ[n][u]: mean over views and positions (Eq. 5).
inline std::vector<std::vector<double>> mu(const activations& a, transform t) {
  std::vector<std::vector<double>> out(static_cast<std::size_t>(a.samples), std::vector<double>(static_cast<std::size_t>(a.units)));
  for (std::int64_t n = 0; n < a.samples; ++n)
    for (std::int64_t u = 0; u < a.units; ++u) {
      double sum = 0;
      for (std::int64_t v = 0; v < a.views; ++v)
        for (std::int64_t s = 0; s < a.positions; ++s) sum += apply(t, a.at(n, v, u, s));
      out[static_cast<std::size_t>(n)][static_cast<std::size_t>(u)] = sum / static_cast<double>(a.views * a.positions);
    }
  return out;
}

struct unit_result {
  std::vector<double> value, top, rest;
  std::vector<std::int64_t> top_index;
  std::int64_t nan_units = 0, negative_denominator_units = 0;
};

inline double index_of(double top, double rest, bool& negative_denominator) {
  negative_denominator = false;
  if (std::isnan(top) || std::isnan(rest)) return nan;
  if (top + rest > 0) return (top - rest) / (top + rest);
  if (top == 0 && rest == 0) return 0.0;
  negative_denominator = true;
  return nan;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// UnitMem per unit from μ rows (one row per sample, in the order ids are reported).
inline unit_result unitmem(const std::vector<std::vector<double>>& mu, bool use_median) {
  unit_result r;
  const std::size_t units = mu.empty() ? 0 : mu[0].size();
  for (std::size_t u = 0; u < units; ++u) {
    std::size_t k = 0;
    bool has_nan = false;
    for (std::size_t i = 0; i < mu.size(); ++i) {
      has_nan = has_nan || std::isnan(mu[i][u]);
      if (mu[i][u] > mu[k][u]) k = i;
    }
    std::vector<double> others;
    for (std::size_t i = 0; i < mu.size(); ++i)
      if (i != k) others.push_back(mu[i][u]);
    double rest = 0;
    if (use_median) {
      rest = median(others);
    } else {
      for (double x : others) rest += x;
      rest /= static_cast<double>(others.size());
    }
    double top = mu[k][u];
    if (has_nan) top = rest = nan;
    bool negative = false;
    const double value = index_of(top, rest, negative);
    r.value.push_back(value);
    r.top.push_back(top);
    r.rest.push_back(rest);
    r.top_index.push_back(static_cast<std::int64_t>(k));
    r.nan_units += std::isnan(value);
    r.negative_denominator_units += negative;
  }
  return r;
}

// ClassMem per unit: class means over samples, top class first on ties, mean of the other
// classes that have samples.
inline unit_result classmem(const std::vector<std::vector<double>>& mu, const std::vector<std::int64_t>& labels,
                            std::int64_t classes) {
  const std::size_t units = mu[0].size();
  std::vector<std::vector<double>> class_mu;
  std::vector<std::int64_t> class_id;
  for (std::int64_t c = 0; c < classes; ++c) {
    std::vector<double> sum(units, 0.0);
    std::int64_t count = 0;
    for (std::size_t i = 0; i < mu.size(); ++i) {
      if (labels[i] != c) continue;
      ++count;
      for (std::size_t u = 0; u < units; ++u) sum[u] += mu[i][u];
    }
    if (count == 0) continue;
    for (double& s : sum) s /= static_cast<double>(count);
    class_mu.push_back(sum);
    class_id.push_back(c);
  }
  unit_result r = unitmem(class_mu, false);
  for (auto& k : r.top_index) k = class_id[static_cast<std::size_t>(k)];
  return r;
}

enum class distance { l2, l2_normalized, l1, cosine, angular };

inline double dist(distance d, const std::vector<double>& a, const std::vector<double>& b) {
  double na = 0, nb = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    na += a[k] * a[k];
    nb += b[k] * b[k];
  }
  na = std::sqrt(na);
  nb = std::sqrt(nb);
  double s = 0;
  switch (d) {
    case distance::l2:
      for (std::size_t k = 0; k < a.size(); ++k) s += (a[k] - b[k]) * (a[k] - b[k]);
      return std::sqrt(s);
    case distance::l1:
      for (std::size_t k = 0; k < a.size(); ++k) s += std::fabs(a[k] - b[k]);
      return s;
    case distance::l2_normalized:
      for (std::size_t k = 0; k < a.size(); ++k) {
        const double x = na > 0 ? a[k] / na : 0.0, y = nb > 0 ? b[k] / nb : 0.0;
        s += (x - y) * (x - y);
      }
      return std::sqrt(s);
    case distance::cosine: {
      double dot = 0;
      for (std::size_t k = 0; k < a.size(); ++k) dot += a[k] * b[k];
      const double c = (na > 0 && nb > 0) ? std::max(-1.0, std::min(1.0, dot / (na * nb))) : 0.0;
      return 1 - c;
    }
    case distance::angular: {
      if (na == 0 || nb == 0) return 0.5;
      // arccos(cos) loses half the digits near 0 and pi; the angle between unit vectors is
      // also 2 atan2(|u - v|, |u + v|), exact at both ends. Long double for headroom.
      long double minus = 0, plus = 0;
      for (std::size_t k = 0; k < a.size(); ++k) {
        const long double u = static_cast<long double>(a[k]) / na, v = static_cast<long double>(b[k]) / nb;
        minus += (u - v) * (u - v);
        plus += (u + v) * (u + v);
      }
      return static_cast<double>(2 * std::atan2(std::sqrt(minus), std::sqrt(plus)) / std::acos(-1.0L));
    }
  }
  return nan;
}

// Mean distance over view pairs: all i < j, or (0, j) for j >= 1.
inline std::vector<double> alignment(const representations& r, distance d, bool original_vs_views) {
  std::vector<double> out;
  for (std::int64_t n = 0; n < r.samples; ++n) {
    std::vector<std::vector<double>> v(static_cast<std::size_t>(r.views));
    for (std::int64_t i = 0; i < r.views; ++i)
      for (std::int64_t k = 0; k < r.features; ++k) v[static_cast<std::size_t>(i)].push_back(r.at(n, i, k));
    double sum = 0;
    int pairs = 0;
    for (std::size_t i = 0; i < v.size(); ++i)
      for (std::size_t j = i + 1; j < v.size(); ++j) {
        if (original_vs_views && i != 0) continue;
        sum += dist(d, v[i], v[j]);
        ++pairs;
      }
    out.push_back(sum / pairs);
  }
  return out;
}

enum class normalization { none, ratio, range, max };

inline std::vector<double> sslmem(const std::vector<double>& f, const std::vector<double>& g, normalization how) {
  std::vector<double> out(f.size());
  for (std::size_t i = 0; i < f.size(); ++i) out[i] = g[i] - f[i];
  if (how == normalization::ratio) {
    for (std::size_t i = 0; i < f.size(); ++i) out[i] = (f[i] + g[i]) == 0 ? 0.0 : (g[i] - f[i]) / (g[i] + f[i]);
  } else if (how == normalization::range) {
    const double range = *std::max_element(out.begin(), out.end()) - *std::min_element(out.begin(), out.end());
    for (double& x : out) x = x == 0 ? 0.0 : x / range;
  } else if (how == normalization::max) {
    const double fm = *std::max_element(f.begin(), f.end()), gm = *std::max_element(g.begin(), g.end());
    for (std::size_t i = 0; i < f.size(); ++i) out[i] = (gm == 0 ? 0.0 : g[i] / gm) - (fm == 0 ? 0.0 : f[i] / fm);
    const double dm = *std::max_element(out.begin(), out.end());
    for (double& x : out) x = x == 0 ? 0.0 : x / dm;
  }
  return out;
}

// Indices of the k largest (or smallest) scores, ties by lower index.
inline std::vector<std::int64_t> top_k(const std::vector<double>& scores, std::int64_t k, bool largest) {
  std::vector<std::int64_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0);
  for (std::size_t i = 0; i < idx.size(); ++i)  // selection sort: slow and obviously right
    for (std::size_t j = i + 1; j < idx.size(); ++j) {
      const double a = scores[static_cast<std::size_t>(idx[i])], b = scores[static_cast<std::size_t>(idx[j])];
      const bool better = largest ? b > a : b < a;
      if (better || (b == a && idx[j] < idx[i])) std::swap(idx[i], idx[j]);
    }
  idx.resize(static_cast<std::size_t>(k));
  return idx;
}

inline double mean_over(const std::vector<double>& scores, const std::vector<std::int64_t>& subset) {
  double s = 0;
  for (auto i : subset) s += scores[static_cast<std::size_t>(i)];
  return s / static_cast<double>(subset.size());
}

}  // namespace oracle
