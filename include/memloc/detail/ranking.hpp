#pragma once

// Sample selection shared by the metrics: orderings by score and seeded random draws. Both
// are specified exactly (ties by lower index, NaN last, a fixed generator and bounded-draw
// rule), so a selection is the same on every platform and standard library.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "../view.hpp"
#include "formulas.hpp"

namespace memloc::detail {

// Indices ordered by score, highest first when `descending`; equal scores keep index
// order; NaN scores come last in either direction.
inline std::vector<index_t> order_by_score(const std::vector<double>& scores, bool descending) {
  std::vector<index_t> order(scores.size());
  std::iota(order.begin(), order.end(), index_t{0});
  std::stable_sort(order.begin(), order.end(), [&](index_t a, index_t b) {
    const double x = scores[static_cast<std::size_t>(a)], y = scores[static_cast<std::size_t>(b)];
    if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) && std::isnan(y);
    return descending ? x > y : x < y;
  });
  return order;
}

// order_by_score's order as an unsigned key for a stable ascending sort of (key, index)
// pairs: equal scores (-0 and +0 included) get equal keys, so the lower index stays first,
// and NaN gets the largest key, so it comes last in either direction. Real scores never
// reach that key: their order-preserving bits lie strictly between 0 and ~0.
MEMLOC_HD inline std::uint64_t ranking_key(double score, bool descending) noexcept {
  if (score != score) return ~std::uint64_t{0};
  const std::uint64_t ordered = order_preserving_bits64(score);
  return descending ? ~ordered : ordered;
}

// A uniform integer in [0, bound) by rejection, so the result does not depend on the
// standard library's distribution (std::uniform_int_distribution is unspecified).
inline std::uint64_t uniform_below(std::mt19937_64& generator, std::uint64_t bound) {
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % bound;
  std::uint64_t draw = 0;
  do {
    draw = generator();
  } while (draw >= limit);
  return draw % bound;
}

// k distinct indices of [0, n), drawn by a partial Fisher-Yates shuffle seeded with `seed`,
// returned in increasing order.
inline std::vector<index_t> random_subset(index_t n, index_t k, std::uint64_t seed) {
  std::vector<index_t> pool(static_cast<std::size_t>(n));
  std::iota(pool.begin(), pool.end(), index_t{0});
  std::mt19937_64 generator(seed);
  for (index_t i = 0; i < k; ++i) {
    const auto j = i + static_cast<index_t>(uniform_below(generator, static_cast<std::uint64_t>(n - i)));
    std::swap(pool[static_cast<std::size_t>(i)], pool[static_cast<std::size_t>(j)]);
  }
  pool.resize(static_cast<std::size_t>(k));
  std::sort(pool.begin(), pool.end());
  return pool;
}

}  // namespace memloc::detail
