#pragma once

// Two-sample t-tests from summaries, with SciPy's ttest_ind arithmetic (equal_var True:
// Student's pooled variance; False: Welch's with the Welch-Satterthwaite df).

#include <cmath>
#include <limits>
#include <vector>

#include "../../analysis_types.hpp"
#include "special.hpp"

namespace memloc::detail::analysis {

// Summary of raw values in two passes: a compensated sum for the mean (so the mean is the
// rounded exact mean whatever n), then the squared deviations from it. More accurate than
// the streaming update for data whose mean is large against its spread.
inline sample_summary summarize(const std::vector<double>& values) {
  sample_summary s;
  s.n = static_cast<index_t>(values.size());
  if (values.empty()) return s;
  double sum = 0.0, compensation = 0.0;
  for (const double v : values) {
    // Neumaier's variant: whichever of the two addends is smaller loses the digits.
    const double t = sum + v;
    compensation += std::fabs(sum) >= std::fabs(v) ? (sum - t) + v : (v - t) + sum;
    sum = t;
  }
  s.mean = (sum + compensation) / static_cast<double>(values.size());
  double m2 = 0.0;
  for (const double v : values) m2 += (v - s.mean) * (v - s.mean);
  s.m2 = m2;
  return s;
}

// t, df and p for two summaries with n >= 2 each. Zero variances follow SciPy: t = ±inf and
// p = 0 for different means, t = NaN and p = NaN for equal ones; Welch's df, 0/0 then, is
// taken as 1 (it does not matter: t is infinite or NaN).
inline t_test_result t_test(const sample_summary& a, const sample_summary& b, const t_test_options& options) {
  const double n1 = static_cast<double>(a.n), n2 = static_cast<double>(b.n);
  const double v1 = a.variance(), v2 = b.variance();
  t_test_result r;
  double denominator = 0.0;
  if (options.kind == t_test_kind::student) {
    r.df = n1 + n2 - 2.0;
    const double pooled = ((n1 - 1.0) * v1 + (n2 - 1.0) * v2) / r.df;
    denominator = std::sqrt(pooled * (1.0 / n1 + 1.0 / n2));
  } else {
    const double vn1 = v1 / n1, vn2 = v2 / n2;
    r.df = (vn1 + vn2) * (vn1 + vn2) / (vn1 * vn1 / (n1 - 1.0) + vn2 * vn2 / (n2 - 1.0));
    if (std::isnan(r.df)) r.df = 1.0;
    denominator = std::sqrt(vn1 + vn2);
  }
  r.statistic = (a.mean - b.mean) / denominator;
  switch (options.alternative) {
    case alternative::less: r.p_value = student_t_cdf(r.df, r.statistic); break;
    case alternative::greater: r.p_value = student_t_sf(r.df, r.statistic); break;
    case alternative::two_sided: r.p_value = 2.0 * student_t_tail(r.df, r.statistic); break;
  }
  return r;
}

}  // namespace memloc::detail::analysis
