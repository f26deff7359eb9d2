#pragma once

// Shared by the analysis tests: views over test vectors, the integer generator that
// tests/reference/make_scipy_reference.py also implements, and message checks.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <memloc/analysis.hpp>

#include "test_support.hpp"

// Checks that `expr` throws memloc::logic_error whose message contains `text`.
#define CHECK_ANALYSIS_ERROR(expr, text) CHECK_THROWS_WITH_AS(expr, doctest::Contains(text), memloc::logic_error)

namespace testing {

inline const memloc::host_exec exec{};
inline const double nan = std::numeric_limits<double>::quiet_NaN();

using memloc::rank_direction;
using memloc::top_count;
using memloc::top_fraction;

template <class T>
memloc::vector_view<const T> view_of(const std::vector<T>& v) {
  return memloc::vector_view<const T>(v.data(), {static_cast<index_t>(v.size())});
}

// splitmix64, as in the reference generator.
struct splitmix64 {
  std::uint64_t state;
  std::uint64_t operator()() {
    state += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

// Pairs (x, y): x uniform on [0, x_levels); y = (coupling * x' + noise draw) / y_div (integer
// division), x' = x or, when `reverse`, x_levels - 1 - x. Every value is an integer.
struct pair_spec {
  std::int64_t n;
  std::uint64_t seed;
  std::int64_t x_levels, coupling, noise, y_div;
  bool reverse;
};

inline void make_pairs(const pair_spec& s, std::vector<double>& x, std::vector<double>& y) {
  splitmix64 rng{s.seed};
  x.clear();
  y.clear();
  for (std::int64_t i = 0; i < s.n; ++i) {
    const std::uint64_t xi = rng() % static_cast<std::uint64_t>(s.x_levels);
    const std::uint64_t e = rng() % static_cast<std::uint64_t>(s.noise);
    const std::uint64_t xr = s.reverse ? static_cast<std::uint64_t>(s.x_levels) - 1 - xi : xi;
    x.push_back(static_cast<double>(xi));
    y.push_back(static_cast<double>((static_cast<std::uint64_t>(s.coupling) * xr + e) / static_cast<std::uint64_t>(s.y_div)));
  }
}

// Two samples of (base + uniform draw on [0, spread)) / 1024, exact in double.
struct sample_spec {
  std::int64_t n1, n2;
  std::uint64_t seed;
  std::int64_t base1, spread1, base2, spread2;
};

inline std::vector<double> make_sample(std::int64_t n, std::uint64_t seed, std::int64_t base, std::int64_t spread) {
  splitmix64 rng{seed};
  std::vector<double> v;
  for (std::int64_t i = 0; i < n; ++i) {
    v.push_back(static_cast<double>(static_cast<std::uint64_t>(base) + rng() % static_cast<std::uint64_t>(spread)) / 1024.0);
  }
  return v;
}

inline void make_samples(const sample_spec& s, std::vector<double>& a, std::vector<double>& b) {
  a = make_sample(s.n1, s.seed, s.base1, s.spread1);
  b = make_sample(s.n2, s.seed ^ 0x5555u, s.base2, s.spread2);
}

}  // namespace testing
