#pragma once

// The distribution functions behind the p-values: the standard normal (Kendall's
// asymptotic test) and Student's t through the regularized incomplete beta function
// (t-tests). Written here rather than taken from Boost.Math so that memloc stays a
// dependency-free header library; tests compare them with SciPy.

#include <cmath>
#include <initializer_list>
#include <limits>

namespace memloc::detail::analysis {

// P(Z <= z) and P(Z >= z) for a standard normal Z. erfc keeps full relative precision in the
// far tail, where 1 - erf would round to 0.
inline double normal_cdf(double z) noexcept { return 0.5 * std::erfc(-z * 0.70710678118654752440); }
inline double normal_sf(double z) noexcept { return 0.5 * std::erfc(z * 0.70710678118654752440); }

// lgamma(z) - ((z - 1/2) ln z - z + ln(2 pi) / 2) for z >= 10, from the asymptotic Stirling
// series. Seven terms leave an error below 1e-16 at z = 10 and less beyond. Separating this
// small remainder lets the large terms of several log-gammas cancel analytically instead of
// in rounded arithmetic.
inline double stirling_remainder(double z) noexcept {
  const double r = 1.0 / z;
  const double r2 = r * r;
  return r * (1.0 / 12 + r2 * (-1.0 / 360 + r2 * (1.0 / 1260 + r2 * (-1.0 / 1680 +
              r2 * (1.0 / 1188 + r2 * (-691.0 / 360360 + r2 * (1.0 / 156)))))));
}

inline constexpr double stirling_threshold = 10.0;

// a ln(x (a + b) / a) given ln x and spread = x b - y a = x (a + b) - a. Near the centre
// x (a + b) / a = 1 + spread / a is close to 1 and log1p keeps its digits; away from it the
// logarithm of x itself is the accurate one (1 + spread / a would have lost the small x).
inline double centred_log_term(double a, double b, double ln_x, double spread) noexcept {
  const double r = spread / a;
  return std::fabs(r) < 0.5 ? a * std::log1p(r) : a * (ln_x + std::log1p(b / a));
}

// ln(x^a y^b / B(a, b)) for b < 10 (memloc needs b = 1/2 only), with y = 1 - x given
// separately (the caller computes it without cancellation). For a of order 500, ln B(a, b)
// from three lgamma calls would lose about 3e-13 to the rounding of numbers near 2600.
// Writing lgamma(a) and lgamma(a + b) in Stirling's form instead, (z - 1/2) ln z - z +
// ln(2 pi) / 2 + remainder, their large parts combine analytically with a ln x into the
// centred term above, whose argument x b - y a is a difference of two numbers no larger than
// b; every remaining term is of order max(1, b), so the prefactor is accurate to a few ulps.
inline double log_beta_prefactor(double a, double b, double x, double y) noexcept {
  // ln x and ln y each from whichever of x, y is small, where the subtraction 1 - (other)
  // would have lost digits.
  const double ln_x = x < 0.5 ? std::log(x) : std::log1p(-y);
  const double ln_y = y < 0.5 ? std::log(y) : std::log1p(-x);
  if (a < stirling_threshold) {
    return a * ln_x + b * ln_y - (std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b));
  }
  const double a_term = centred_log_term(a, b, ln_x, x * b - y * a);
  return a_term + b * (ln_y + std::log(a + b)) - 0.5 * std::log1p(b / a) - b + stirling_remainder(a + b) -
         stirling_remainder(a) - std::lgamma(b);
}

// The continued fraction of I_x(a, b) (the standard one whose partial numerators alternate
// between m(b - m)x / ((a + 2m - 1)(a + 2m)) and -(a + m)(a + b + m)x / ((a + 2m)(a + 2m + 1))),
// evaluated front to back with the modified Lentz method: the convergent is kept as a
// running product of ratios, and tiny denominators are nudged off zero. It converges fast
// for x < (a + 1) / (a + b + 2); callers use the symmetry I_x(a, b) = 1 - I_y(b, a) otherwise.
inline double beta_continued_fraction(double a, double b, double x) noexcept {
  constexpr double tiny = 1e-300;
  constexpr double tolerance = std::numeric_limits<double>::epsilon();
  constexpr int max_terms = 100000;
  double c = 1.0;
  double d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1.0 / d;
  double value = d;
  for (int m = 1; m <= max_terms; ++m) {
    const double dm = static_cast<double>(m);
    const double even = dm * (b - dm) * x / ((a + 2.0 * dm - 1.0) * (a + 2.0 * dm));
    const double odd = -(a + dm) * (a + b + dm) * x / ((a + 2.0 * dm) * (a + 2.0 * dm + 1.0));
    for (const double numerator : {even, odd}) {
      d = 1.0 + numerator * d;
      if (std::fabs(d) < tiny) d = tiny;
      c = 1.0 + numerator / c;
      if (std::fabs(c) < tiny) c = tiny;
      d = 1.0 / d;
      value *= c * d;
    }
    if (std::fabs(c * d - 1.0) <= tolerance) break;
  }
  return value;
}

// The regularized incomplete beta function I_x(a, b) for a > 0, 0 < b < 10, x in [0, 1],
// y = 1 - x.
inline double regularized_beta(double a, double b, double x, double y) noexcept {
  if (std::isnan(a) || std::isnan(b) || std::isnan(x) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
  if (x <= 0.0) return 0.0;
  if (y <= 0.0) return 1.0;
  const double prefactor = std::exp(log_beta_prefactor(a, b, x, y));
  if (x < (a + 1.0) / (a + b + 2.0)) return prefactor * beta_continued_fraction(a, b, x) / a;
  return 1.0 - prefactor * beta_continued_fraction(b, a, y) / b;
}

// I_x(a, 1/2) for large a by the asymptotic expansion in 1/T, T = a - 1/4, of DiDonato and
// Morris (1992, "BGRAT"): I_x(a, b) = Γ(a + b) / (Γ(a) T^b) Σ_n p_n K_n with u = -T ln x,
// K_0 = Q(b, u) and K_n = [(b + 2n - 2)(b + 2n - 1) K_(n-1) + (u + b + 2n - 1) (ln x / 2)^(2n-2)
// u^b e^-u / Γ(b)] / (4 T^2), p_0 = 1 and p_n = (b - 1) / (2n + 1)! + (1/n) Σ_{m=1}^{n-1}
// (m b - n) p_(n-m) / (2m + 1)!. For b = 1/2, Q(1/2, u) = erfc(√u). Needed because for
// large a the continued fraction runs near its convergence boundary over the whole useful
// range of x, where each of its steps cancels 1 against a number within ~1/a of -1 and
// loses about a * 1e-16 relative (1e-10 at a = 10^6); this expansion has no such step.
inline double regularized_beta_half_large_a(double a, double x, double y) noexcept {
  constexpr double b = 0.5;
  constexpr double pi = 3.14159265358979323846;
  const double big_t = a + (b - 1.0) / 2.0;
  const double ln_x = y < 0.35 ? std::log1p(-y) : std::log(x);
  const double u = -big_t * ln_x;
  // ln(Γ(a + b) / Γ(a)) with the large parts of Stirling's form cancelled analytically.
  const double log_scale = (a - 0.5) * std::log1p(b / a) + b * std::log((a + b) / big_t) - b +
                           stirling_remainder(a + b) - stirling_remainder(a);
  const double density = std::sqrt(u / pi) * std::exp(-u);  // u^b e^-u / Γ(b)
  constexpr int terms = 30;
  double p[terms] = {1.0};
  double odd_factorial[2 * terms + 2] = {1.0};  // odd_factorial[k] = k!
  for (int k = 1; k < 2 * terms + 2; ++k) odd_factorial[k] = odd_factorial[k - 1] * static_cast<double>(k);
  const double half_ln_x_squared = 0.25 * ln_x * ln_x;
  const double four_t_squared = 4.0 * big_t * big_t;
  double k_n = std::erfc(std::sqrt(u));
  double sum = k_n;
  double ln_power = 1.0;  // (ln x / 2)^(2n - 2)
  for (int n = 1; n < terms; ++n) {
    double acc = 0.0;
    for (int m = 1; m < n; ++m) acc += (m * b - n) * p[n - m] / odd_factorial[2 * m + 1];
    p[n] = acc / n + (b - 1.0) / odd_factorial[2 * n + 1];
    const double bn = b + 2.0 * (n - 1);
    k_n = (bn * (bn + 1.0) * k_n + (u + bn + 1.0) * ln_power * density) / four_t_squared;
    ln_power *= half_ln_x_squared;
    const double term = p[n] * k_n;
    sum += term;
    if (std::fabs(term) <= std::numeric_limits<double>::epsilon() * std::fabs(sum)) break;
  }
  return std::exp(log_scale) * sum;
}

// Above this a (= df / 2) the t tail uses the large-a expansion; at and below it the
// continued fraction's loss (about a * 1e-16 relative) stays under 1e-13.
inline constexpr double large_a_threshold = 500.0;

// P(T <= -|t|) for Student's t with df > 0 degrees of freedom: I_{df/(df+t^2)}(df/2, 1/2) / 2.
// x and y = 1 - x are both formed as ratios, so neither suffers the cancellation of 1 - x.
inline double student_t_tail(double df, double t) noexcept {
  if (std::isnan(df) || std::isnan(t)) return std::numeric_limits<double>::quiet_NaN();
  const double t2 = t * t;
  if (std::isinf(t2)) return 0.0;
  if (t2 == 0.0) return 0.5;
  const double x = df / (df + t2);
  const double y = t2 / (df + t2);
  const double a = 0.5 * df;
  return 0.5 * (a > large_a_threshold ? regularized_beta_half_large_a(a, x, y) : regularized_beta(a, 0.5, x, y));
}

// P(T <= t) and P(T >= t) of Student's t with df degrees of freedom.
inline double student_t_cdf(double df, double t) noexcept {
  const double tail = student_t_tail(df, t);
  return t < 0.0 ? tail : 1.0 - tail;
}
inline double student_t_sf(double df, double t) noexcept {
  const double tail = student_t_tail(df, t);
  return t > 0.0 ? tail : 1.0 - tail;
}

}  // namespace memloc::detail::analysis
