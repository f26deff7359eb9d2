#pragma once

// SSLMem scores of a set of samples from their SSL_f and SSL_g. The range and max
// normalisations divide by a statistic of the whole set, so they are set-level operations.

#include <cmath>

#include "../../options.hpp"
#include "../../view.hpp"
#include "../alignment_checks.hpp"
#include "../formulas.hpp"
#include "../test_hooks.hpp"
#include "../validate.hpp"

namespace memloc::detail::host {

// What set_division_for needs of a set of values, and its extremes, gathered one value at a
// time so that no set is stored. The first value seeds the extremes: a NaN there stays, which
// is harmless, since any NaN makes the division all_nan whatever the statistic.
class set_scan {
 public:
  void add(double v) noexcept {
    if (empty_) lo_ = hi_ = v;
    empty_ = false;
    lo_ = v < lo_ ? v : lo_;
    hi_ = v > hi_ ? v : hi_;
    any_nan_ |= std::isnan(v);
    all_zero_ &= v == 0.0;
  }

  double lo() const noexcept { return lo_; }
  double hi() const noexcept { return hi_; }

  // The policy for dividing this set by `scale`; throws for a scale that cannot normalise.
  set_division division(const char* function, const char* what, double scale) const {
    const set_division d = set_division_for(any_nan_, all_zero_, scale);
    check_set_statistic(function, what, d, scale);
    return d;
  }

 private:
  bool empty_ = true, any_nan_ = false, all_zero_ = true;
  double lo_ = 0.0, hi_ = 0.0;
};

// out(i) = the score of sample i. The set statistics are gathered by reading the alignments
// again rather than by storing intermediate sets, and out(i) is written once, last, from
// ssl_f(i) and ssl_g(i) alone: so out may be one of the alignments, and is left unchanged
// when a statistic cannot normalise.
template <class F, class G, class Out>
void sslmem_scores(const char* function, const F& ssl_f, const G& ssl_g, const sslmem_options& options,
                   const Out& out) {
  test_hooks::count(test_hooks::sslmem_score_sets);
  const index_t n = ssl_f.extent(0);
  const auto write = [&](const auto& score_of) {
    for (index_t i = 0; i < n; ++i) {
      const double s = score_of(i);
      out(i) = options.clamp01 ? clamp01(s) : s;
    }
  };
  const auto difference = [&](index_t i) { return sslmem_difference(ssl_f(i), ssl_g(i)); };
  switch (options.normalization) {
    case sslmem_normalization::none:
      write(difference);
      break;
    case sslmem_normalization::ratio:
      write([&](index_t i) { return sslmem_ratio(ssl_f(i), ssl_g(i)); });
      break;
    case sslmem_normalization::range: {
      set_scan d;
      for (index_t i = 0; i < n; ++i) d.add(difference(i));
      const double range = d.hi() - d.lo();
      const set_division division = d.division(function, range_statistic, range);
      write([&](index_t i) { return divided(division, difference(i), range); });
      break;
    }
    case sslmem_normalization::max: {
      set_scan f, g;
      for (index_t i = 0; i < n; ++i) {
        f.add(ssl_f(i));
        g.add(ssl_g(i));
      }
      const set_division f_division = f.division(function, max_f_statistic, f.hi());
      const set_division g_division = g.division(function, max_g_statistic, g.hi());
      const auto scaled = [&](index_t i) {
        return sslmem_difference(divided(f_division, ssl_f(i), f.hi()), divided(g_division, ssl_g(i), g.hi()));
      };
      set_scan d;
      for (index_t i = 0; i < n; ++i) d.add(scaled(i));
      const set_division d_division = d.division(function, max_difference_statistic, d.hi());
      write([&](index_t i) { return divided(d_division, scaled(i), d.hi()); });
      break;
    }
  }
}

}  // namespace memloc::detail::host
