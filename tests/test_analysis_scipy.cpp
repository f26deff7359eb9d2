// Kendall's τ-b and the t-tests against SciPy's values, recorded by
// tests/reference/make_scipy_reference.py in tests/reference/scipy_stats.inc.

#include <cmath>
#include <string>
#include <vector>

#include "analysis_support.hpp"

namespace testing {
namespace {

struct kendall_case {
  const char* name;
  pair_spec input;
  int alternative;  // memloc::alternative
  int method;       // memloc::kendall_method
  double tau, p;
};

struct kendall_list_case {
  const char* name;
  std::vector<double> x, y;
  int alternative, method;
  double tau, p;
};

struct ttest_case {
  const char* name;
  sample_spec input;
  int kind;  // memloc::t_test_kind
  int alternative;
  double t, df, p;
};

struct ttest_list_case {
  const char* name;
  std::vector<double> a, b;
  int kind, alternative;
  double t, df, p;
};

struct stdtr_case {
  double df, t, p;
};

#include "reference/scipy_stats.inc"

// τ is a ratio of exact integers: a few ulps. p: SciPy's exact recurrence runs on counts,
// memloc's on probabilities, and Student's t tail comes from different algorithms (cdflib
// in SciPy), each good to about 1e-13 relative; a p-value's relative error is also its
// statistic's times about t^2. Measured: within 1e-13 relative, except (below 1e-12) Welch p
// values near 1e-232; checked at 1e-12.
constexpr double tau_tol = 1e-14;
constexpr double p_tol = 1e-12;

// close(), with infinities equal to themselves.
bool agrees(double actual, double expected, double rel_tol, double abs_tol) {
  return actual == expected || close(actual, expected, rel_tol, abs_tol);
}

void check_kendall(const char* name, const std::vector<double>& x, const std::vector<double>& y, int alternative,
                   int method, double tau, double p) {
  const memloc::kendall_options options{static_cast<memloc::alternative>(alternative),
                                        static_cast<memloc::kendall_method>(method)};
  const auto r = memloc::kendall_tau_b(memloc::host_exec{}, view_of(x), view_of(y), options);
  INFO(std::string(name), " n=", x.size(), " alternative=", alternative, " method=", method, ": tau ", r.tau, " vs ", tau, ", p ",
       r.p_value, " vs ", p);
  CHECK(agrees(r.tau, tau, tau_tol, tau_tol));
  CHECK(agrees(r.p_value, p, p_tol, 1e-300));
}

TEST_CASE("kendall_tau_b matches scipy.stats.kendalltau on generated inputs") {
  std::vector<double> x, y;
  for (const auto& c : kendall_cases) {
    make_pairs(c.input, x, y);
    check_kendall(c.name, x, y, c.alternative, c.method, c.tau, c.p);
  }
}

TEST_CASE("kendall_tau_b matches scipy.stats.kendalltau on hand-made inputs") {
  for (const auto& c : kendall_list_cases) check_kendall(c.name, c.x, c.y, c.alternative, c.method, c.tau, c.p);
}

void check_t(const char* name, const std::vector<double>& a, const std::vector<double>& b, int kind, int alternative,
             double t, double df, double p) {
  const memloc::t_test_options options{static_cast<memloc::t_test_kind>(kind), static_cast<memloc::alternative>(alternative)};
  const auto r = memloc::t_test(memloc::host_exec{}, view_of(a), view_of(b), options);
  INFO(std::string(name), " kind=", kind, " alternative=", alternative, ": t ", r.statistic, " vs ", t, ", df ", r.df, " vs ", df,
       ", p ", r.p_value, " vs ", p);
  CHECK(agrees(r.statistic, t, 1e-12, 0.0));
  CHECK(agrees(r.df, df, 1e-12, 0.0));
  CHECK(agrees(r.p_value, p, p_tol, 1e-300));
}

TEST_CASE("t_test matches scipy.stats.ttest_ind on generated samples") {
  std::vector<double> a, b;
  for (const auto& c : ttest_cases) {
    make_samples(c.input, a, b);
    check_t(c.name, a, b, c.kind, c.alternative, c.t, c.df, c.p);
  }
}

TEST_CASE("t_test matches scipy.stats.ttest_ind on hand-made samples, NaN and inf included") {
  for (const auto& c : ttest_list_cases) check_t(c.name, c.a, c.b, c.kind, c.alternative, c.t, c.df, c.p);
}

TEST_CASE("Student's t tail matches scipy.special.stdtr") {
  for (const auto& c : stdtr_cases) {
    const double p = memloc::detail::analysis::student_t_tail(c.df, c.t);
    INFO("df=", c.df, " t=", c.t, ": ", p, " vs ", c.p);
    CHECK(agrees(p, c.p, 1e-12, 1e-300));
  }
}

}  // namespace
}  // namespace testing
