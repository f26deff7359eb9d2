#pragma once

// Selections by score: how many items a top_k means, which items it takes, and the checks
// every analysis entry point shares. Orderings reuse detail::order_by_score, so a top-k set
// here is exactly the head of LayerMem's ranking (ties by lower index, NaN last).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../analysis_types.hpp"
#include "../ranking.hpp"
#include "../test_hooks.hpp"
#include "../validate.hpp"

namespace memloc::detail::analysis {

template <class T>
inline constexpr bool is_score_element_v =
    std::is_same_v<std::remove_const_t<T>, double> || std::is_same_v<std::remove_const_t<T>, float>;

// A strided view of scores copied to contiguous fp64, the form every analysis works on.
template <class T, class Space>
std::vector<double> to_doubles(const vector_view<T, Space>& view) {
  test_hooks::count(test_hooks::host_copies);
  std::vector<double> out(static_cast<std::size_t>(view.extent(0)));
  for (index_t i = 0; i < view.extent(0); ++i) out[static_cast<std::size_t>(i)] = static_cast<double>(view(i));
  return out;
}

template <class T, class Space>
void check_scores(const char* fn, const char* argument, const vector_view<T, Space>& scores, index_t minimum) {
  test_hooks::count(test_hooks::score_checks);
  check_minimum_extents<T, 1, Space>(fn, argument, scores, {minimum}, {"items"});
}

inline index_t count_nan(const std::vector<double>& values) {
  index_t nan = 0;
  for (const double v : values) nan += std::isnan(v) ? 1 : 0;
  return nan;
}

// k for a fraction p of n items: ceil(p * n), except that a product within a few ulps of
// an integer is taken as that integer. p is the double nearest a decimal the caller wrote
// (0.07 is stored as 0.07000000000000000666), and p * n then lands a rounding error above
// the integer the caller meant (0.07 * 100 = 7.000000000000001, whose ceiling is 8). The
// tolerance, 8 ulps of the product, is far above these errors (at most about one ulp) and
// far below any genuine fraction of an item for the n memloc handles (< 2^48).
inline index_t k_of_fraction(double p, index_t n) noexcept {
  const double product = p * static_cast<double>(n);
  const double nearest = std::round(product);
  if (nearest >= 1.0 && std::fabs(product - nearest) <= 8.0 * std::numeric_limits<double>::epsilon() * product) {
    return static_cast<index_t>(nearest);
  }
  return static_cast<index_t>(std::ceil(product));
}

// The number of items `k` selects out of n >= 1 candidates; an error names `argument`.
inline index_t resolve_k(const char* fn, const char* argument, const top_k& k, index_t n) {
  check_enum(fn, concat(argument, ".kind").c_str(), k.kind, top_k_kind::fraction);
  if (k.kind == top_k_kind::count) {
    if (k.count < 1 || k.count > n) fail(fn, argument, ".count must be in [1, ", n, "], got ", k.count);
    return k.count;
  }
  if (!(k.fraction > 0.0 && k.fraction <= 1.0)) {
    fail(fn, argument, ".fraction must be in (0, 1], got ", k.fraction);
  }
  return k_of_fraction(k.fraction, n);
}

inline void check_direction(const char* fn, const char* argument, rank_direction direction) {
  check_enum(fn, argument, direction, rank_direction::least);
}

// The first k items of the ranking (top: highest first; least: lowest first): exactly the
// head of order_by_score, whose order (NaN last, then by score, equal scores by index) is a
// strict total order once the index breaks ties, so a partial selection followed by a sort
// of the k chosen gives the same items in the same order in O(n + k log k).
inline std::vector<index_t> head_of_ranking(const std::vector<double>& scores, index_t k, rank_direction direction) {
  struct item {
    double score;
    index_t index;
  };
  std::vector<item> items(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) items[i] = {scores[i], static_cast<index_t>(i)};
  const bool descending = direction == rank_direction::top;
  const auto before = [descending](const item& a, const item& b) {
    const bool a_nan = std::isnan(a.score), b_nan = std::isnan(b.score);
    if (a_nan || b_nan) return a_nan == b_nan ? a.index < b.index : b_nan;
    if (a.score != b.score) return descending ? a.score > b.score : a.score < b.score;
    return a.index < b.index;
  };
  const auto middle = items.begin() + static_cast<std::ptrdiff_t>(k);
  if (middle != items.end()) std::nth_element(items.begin(), middle, items.end(), before);
  std::sort(items.begin(), middle, before);
  std::vector<index_t> head(static_cast<std::size_t>(k));
  for (std::size_t i = 0; i < head.size(); ++i) head[i] = items[i].index;
  return head;
}

// Where a selection may not take NaN scores (units to prune, top units), too few numbers
// for k is the caller's error rather than a silent NaN pick.
inline void check_enough_numbers(const char* fn, const std::string& what, index_t k, index_t n, index_t nan) {
  if (k > n - nan) {
    fail(fn, what, " must hold at least ", k, " non-NaN scores to select from, got ", n - nan, " (", nan, " of ", n,
         " are NaN)");
  }
}

// Membership flags of a set of indices in [0, n).
inline std::vector<std::uint8_t> membership(const std::vector<index_t>& members, index_t n) {
  std::vector<std::uint8_t> flags(static_cast<std::size_t>(n), 0);
  for (const index_t i : members) flags[static_cast<std::size_t>(i)] = 1;
  return flags;
}

// |a ∩ b| for two sets of indices in [0, n).
inline index_t intersection_size(const std::vector<std::uint8_t>& a_flags, const std::vector<index_t>& b) {
  index_t count = 0;
  for (const index_t i : b) count += a_flags[static_cast<std::size_t>(i)];
  return count;
}

// The overlap matrix of top-k sets (each of `items` items), k on the diagonal.
inline overlap_matrix overlap_matrix_of(std::vector<std::string> names, const std::vector<std::vector<index_t>>& tops,
                                        index_t items, index_t k) {
  overlap_matrix matrix;
  matrix.names = std::move(names);
  matrix.k = k;
  const std::size_t count = tops.size();
  matrix.counts.assign(count * count, 0);
  for (std::size_t i = 0; i < count; ++i) {
    const auto flags = membership(tops[i], items);
    for (std::size_t j = 0; j < count; ++j) matrix.counts[i * count + j] = intersection_size(flags, tops[j]);
  }
  return matrix;
}

}  // namespace memloc::detail::analysis
