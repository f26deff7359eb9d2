#pragma once

// Kendall's τ-b with SciPy's p-values (scipy.stats.kendalltau, variant 'b').
//
// Pair counts in O(n log n) after Knight (1966): sort the pairs by x and then y; runs of
// equal x give the x ties, runs of equal (x, y) the joint ties; a merge sort of the y
// sequence counts the pairs it has to exchange, which are exactly the discordant pairs (a
// pair tied in x is already in y order, so it is never exchanged); the sorted y gives the
// y ties. Counts are 64-bit: n(n - 1)/2 exceeds 2^32 from n = 92 682 on.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "../../analysis_types.hpp"
#include "../validate.hpp"
#include "special.hpp"

namespace memloc::detail::analysis {

struct tie_sums {
  std::int64_t pairs = 0;  // Σ t(t - 1)/2 over runs of t equal values
  double v0 = 0.0;         // Σ t(t - 1)(t - 2), for the variance
  double v1 = 0.0;         // Σ t(t - 1)(2t + 5)
  void add_run(std::int64_t t) noexcept {
    if (t < 2) return;
    const double d = static_cast<double>(t);
    pairs += t * (t - 1) / 2;
    v0 += d * (d - 1.0) * (d - 2.0);
    v1 += d * (d - 1.0) * (2.0 * d + 5.0);
  }
};

// Calls add(run length) for each run of equal neighbours of a sorted sequence.
template <class It, class Equal>
tie_sums sum_runs(It first, It last, Equal equal) {
  tie_sums sums;
  for (It run = first; run != last;) {
    It end = run + 1;
    while (end != last && equal(*run, *end)) ++end;
    sums.add_run(static_cast<std::int64_t>(end - run));
    run = end;
  }
  return sums;
}

// Sorts `values` ascending by a bottom-up merge sort and returns the number of pairs i < j
// with values[i] > values[j] (equal values are not counted: they merge left first).
inline std::int64_t sort_counting_inversions(std::vector<double>& values) {
  const std::size_t n = values.size();
  std::vector<double> buffer(n);
  std::int64_t inversions = 0;
  // Runs of 16 by insertion sort first: their inversions are the shifts it makes.
  constexpr std::size_t leaf = 16;
  for (std::size_t start = 0; start < n; start += leaf) {
    const std::size_t stop = std::min(start + leaf, n);
    for (std::size_t i = start + 1; i < stop; ++i) {
      const double v = values[i];
      std::size_t j = i;
      while (j > start && values[j - 1] > v) {
        values[j] = values[j - 1];
        --j;
      }
      inversions += static_cast<std::int64_t>(i - j);
      values[j] = v;
    }
  }
  std::vector<double>* from = &values;
  std::vector<double>* to = &buffer;
  for (std::size_t width = leaf; width < n; width *= 2) {
    for (std::size_t lo = 0; lo < n; lo += 2 * width) {
      const std::size_t mid = std::min(lo + width, n), hi = std::min(lo + 2 * width, n);
      std::size_t i = lo, j = mid, out = lo;
      while (i < mid && j < hi) {
        if ((*from)[j] < (*from)[i]) {
          // Every element still waiting on the left is larger than this right one.
          inversions += static_cast<std::int64_t>(mid - i);
          (*to)[out++] = (*from)[j++];
        } else {
          (*to)[out++] = (*from)[i++];
        }
      }
      while (i < mid) (*to)[out++] = (*from)[i++];
      while (j < hi) (*to)[out++] = (*from)[j++];
    }
    std::swap(from, to);
  }
  if (from != &values) values.swap(buffer);
  return inversions;
}

struct kendall_counts {
  std::int64_t n = 0;
  std::int64_t discordant = 0;
  std::int64_t joint_tied = 0;
  tie_sums x, y;
};

// Pair counts of two NaN-free sequences of equal length.
inline kendall_counts count_pairs(const std::vector<double>& x, const std::vector<double>& y) {
  struct point {
    double x, y;
  };
  const std::size_t n = x.size();
  std::vector<point> points(n);
  for (std::size_t i = 0; i < n; ++i) points[i] = {x[i], y[i]};
  std::sort(points.begin(), points.end(),
            [](const point& a, const point& b) { return a.x < b.x || (a.x == b.x && a.y < b.y); });
  kendall_counts counts;
  counts.n = static_cast<std::int64_t>(n);
  counts.x = sum_runs(points.begin(), points.end(), [](const point& a, const point& b) { return a.x == b.x; });
  counts.joint_tied =
      sum_runs(points.begin(), points.end(), [](const point& a, const point& b) { return a.x == b.x && a.y == b.y; })
          .pairs;
  std::vector<double> ys(n);
  for (std::size_t i = 0; i < n; ++i) ys[i] = points[i].y;
  counts.discordant = sort_counting_inversions(ys);
  counts.y = sum_runs(ys.begin(), ys.end(), [](double a, double b) { return a == b; });
  return counts;
}

// Probability that a uniformly random permutation of n items has at most c inversions, and
// that it has exactly c, by the recurrence over permutation sizes: a permutation of j items
// is one of j - 1 items with the new item inserted at one of j places, adding 0 .. j - 1
// inversions, so P_j(i) = (1/j) Σ_{t < j} P_{j-1}(i - t), a moving sum over prefix sums.
// Probabilities rather than counts keep every value in range for any n. O(n c) time.
struct inversion_tail {
  double at_most = 0.0;
  double exactly = 0.0;
};

inline inversion_tail inversion_distribution_tail(std::int64_t n, std::int64_t c) {
  std::vector<double> p(static_cast<std::size_t>(c + 1), 0.0);
  p[0] = 0.5;
  if (c >= 1) p[1] = 0.5;
  for (std::int64_t j = 3; j <= n; ++j) {
    for (std::size_t i = 1; i < p.size(); ++i) p[i] += p[i - 1];
    // Now p[i] is Σ_{t <= i}; take away the terms more than j - 1 back.
    for (std::size_t i = p.size(); i-- > static_cast<std::size_t>(j);) p[i] -= p[i - static_cast<std::size_t>(j)];
    const double scale = 1.0 / static_cast<double>(j);
    for (double& v : p) v *= scale;
  }
  inversion_tail tail;
  for (const double v : p) tail.at_most += v;
  tail.exactly = p.back();
  return tail;
}

// Exact p-value from the number of concordant pairs of a tie-free sample (SciPy's
// _kendall_p_exact): the null distribution of the concordant count is that of the
// inversion count of a random permutation, symmetric about n(n - 1)/4, so the left tail at
// min(c, total - c) serves both sides.
inline double kendall_exact_p(std::int64_t n, std::int64_t concordant, alternative alt) {
  const std::int64_t total = n * (n - 1) / 2;
  const bool in_right_tail = concordant >= total - concordant;
  const std::int64_t c = std::min(concordant, total - concordant);
  double two_sided = 1.0;
  double mass_at_c = 0.0;
  if (n == 2) {
    mass_at_c = 0.5;
  } else if (!(4 * c == n * (n - 1) && alt == alternative::two_sided)) {
    const inversion_tail tail = inversion_distribution_tail(n, c);
    two_sided = 2.0 * tail.at_most;
    mass_at_c = tail.exactly;
  }
  double p = two_sided;
  if (alt != alternative::two_sided) {
    // The alternative points at the tail we summed: half the two-sided value; otherwise
    // its complement, with the mass at c itself added back.
    p = in_right_tail == (alt == alternative::greater) ? two_sided / 2.0 : 1.0 - two_sided / 2.0 + mass_at_c;
  }
  return std::clamp(p, 0.0, 1.0);
}

// Asymptotic p-value: S = concordant - discordant is approximately normal under H0 with the
// tie-corrected variance of Kendall (1970), in SciPy's arrangement.
inline double kendall_asymptotic_p(const kendall_counts& k, std::int64_t con_minus_dis, alternative alt) {
  const double n = static_cast<double>(k.n);
  const double m = n * (n - 1.0);
  // The last term is 0/0 at n = 2, so the asymptotic p of two pairs is NaN, as in SciPy.
  // Tie counts enter as doubles: SciPy's int64 product x_tied * y_tied would wrap for
  // heavily tied inputs of a million items.
  const double variance = (m * (2.0 * n + 5.0) - k.x.v1 - k.y.v1) / 18.0 +
                          2.0 * static_cast<double>(k.x.pairs) * static_cast<double>(k.y.pairs) / m +
                          k.x.v0 * k.y.v0 / (9.0 * m * (n - 2.0));
  const double z = static_cast<double>(con_minus_dis) / std::sqrt(variance);
  switch (alt) {
    case alternative::less: return normal_cdf(z);
    case alternative::greater: return normal_sf(z);
    case alternative::two_sided: break;
  }
  return 2.0 * normal_sf(std::fabs(z));
}

inline bool has_nan(const std::vector<double>& v) {
  return std::any_of(v.begin(), v.end(), [](double a) { return std::isnan(a); });
}

// τ-b and its p-value for x and y of equal length n >= 2. NaN anywhere, or a constant
// input, gives NaN for both (SciPy's nan_policy='propagate'). The exact method on tied
// inputs is the caller's error, as in SciPy; `fn` names the caller in that message.
inline kendall_result kendall_tau_b(const std::vector<double>& x, const std::vector<double>& y,
                                    const kendall_options& options, const char* fn) {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  kendall_result result;
  result.n = static_cast<index_t>(x.size());
  if (has_nan(x) || has_nan(y)) {
    result.tau = result.p_value = nan;
    return result;
  }
  const kendall_counts k = count_pairs(x, y);
  result.discordant = k.discordant;
  result.x_tied = k.x.pairs;
  result.y_tied = k.y.pairs;
  result.joint_tied = k.joint_tied;
  const std::int64_t total = k.n * (k.n - 1) / 2;
  if (k.x.pairs == total || k.y.pairs == total) {
    result.tau = result.p_value = nan;
    return result;
  }
  const std::int64_t con_minus_dis = total - k.x.pairs - k.y.pairs + k.joint_tied - 2 * k.discordant;
  const double tau = static_cast<double>(con_minus_dis) / std::sqrt(static_cast<double>(total - k.x.pairs)) /
                     std::sqrt(static_cast<double>(total - k.y.pairs));
  result.tau = std::clamp(tau, -1.0, 1.0);

  const bool ties = k.x.pairs != 0 || k.y.pairs != 0;
  bool exact = false;
  switch (options.method) {
    case kendall_method::automatic:
      exact = !ties && (k.n <= 33 || std::min(k.discordant, total - k.discordant) <= 1);
      break;
    case kendall_method::exact:
      if (ties) {
        fail(fn, "options.method must be automatic or asymptotic for inputs with ties, got exact (", k.x.pairs,
             " pairs tied in x, ", k.y.pairs, " in y)");
      }
      exact = true;
      break;
    case kendall_method::asymptotic: break;
  }
  result.exact = exact;
  result.p_value = exact ? kendall_exact_p(k.n, total - k.discordant, options.alternative)
                         : kendall_asymptotic_p(k, con_minus_dis, options.alternative);
  return result;
}

}  // namespace memloc::detail::analysis
