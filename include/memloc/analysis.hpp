#pragma once

// Analysis around the metrics (LOC §4.1, §5, Tables 3, 5, 6, 11, 12, 21; spec §5-7): rankings
// and top-k selections of per-sample or per-unit scores, their overlaps, Kendall's τ-b,
// two-sample t-tests, pruning masks, layer selection, and the links between units and the
// samples that drive them. Each function validates its arguments and forwards to
// detail/analysis/, where each formula has its one home. Scores are float or double; every
// statistic is computed in fp64. Results are returned by value: their sizes depend on k
// and on the data, and they are small beside the inputs.

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "analysis_types.hpp"
#include "core.hpp"
#include "detail/analysis/kendall.hpp"
#include "detail/analysis/select.hpp"
#include "detail/analysis/t_test.hpp"
#include "detail/analysis/units.hpp"
#include "detail/validate.hpp"

namespace memloc {

namespace detail::analysis {

template <class T, class Space>
void check_score_view() {
  static_assert(is_score_element_v<T>, "scores must be float or double");
  static_assert(host_accessible_v<Space>, "host_exec needs host or managed memory");
}

// A list of named score vectors: at least one, names non-empty and distinct, each vector
// usable with at least one item (and `items` of them when items >= 0).
template <class T, class Space>
void check_named(const char* fn, const char* argument, const std::vector<named_scores<T, Space>>& list,
                 index_t items) {
  check_at_least(fn, concat(argument, ".size()").c_str(), 1, static_cast<index_t>(list.size()));
  std::set<std::string> names;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& entry = list[i];
    if (entry.name.empty()) fail(fn, argument, "[", i, "].name must be non-empty, got \"\"");
    if (!names.insert(entry.name).second) fail(fn, argument, "[", i, "].name must be unique, got \"", entry.name, "\" again");
    const std::string label = concat(argument, "[", i, "] (\"", entry.name, "\") scores");
    check_scores(fn, label.c_str(), entry.scores, 1);
    if (items >= 0) check_extent(fn, label.c_str(), 0, concat("items, as in ", argument, "[0]").c_str(), items, entry.scores.extent(0));
  }
}

// Two score vectors over the same items, named x and y unless said otherwise.
template <class X, class SX, class Y, class SY>
void check_pair(const char* fn, const vector_view<X, SX>& x, const vector_view<Y, SY>& y, index_t minimum,
                const char* x_name = "x", const char* y_name = "y") {
  check_scores(fn, x_name, x, minimum);
  check_scores(fn, y_name, y, 0);
  check_extent(fn, y_name, 0, concat("items, as in ", x_name).c_str(), x.extent(0), y.extent(0));
}

// The exact null distribution costs O(n c) with c up to n^2 / 4.
inline constexpr index_t kendall_exact_max_n = 1000;

inline void check_kendall_options(const char* fn, const kendall_options& options, index_t n) {
  check_enum(fn, "options.alternative", options.alternative, alternative::less);
  check_enum(fn, "options.method", options.method, kendall_method::asymptotic);
  if (options.method == kendall_method::exact && n > kendall_exact_max_n) {
    fail(fn, "options.method exact needs n <= ", kendall_exact_max_n,
         " (its cost grows as n^3; use automatic or asymptotic), got n = ", n);
  }
}

inline void check_t_test_options(const char* fn, const t_test_options& options) {
  check_enum(fn, "options.kind", options.kind, t_test_kind::welch);
  check_enum(fn, "options.alternative", options.alternative, alternative::less);
}

inline void check_summary(const char* fn, const char* argument, const sample_summary& s) {
  if (s.n < 2) fail(fn, argument, ".n must be >= 2 (a variance needs two values; SciPy gives NaN), got ", s.n);
  if (s.m2 < 0.0) fail(fn, argument, ".m2 must be >= 0 (a sum of squares), got ", s.m2);
}

template <class T, class Space>
void check_select_layers(const char* fn, const std::vector<std::string>& names, const vector_view<T, Space>& values,
                         index_t count, rank_direction direction) {
  check_scores(fn, "values", values, 1);
  check_extent(fn, "values", 0, "one per name", static_cast<index_t>(names.size()), values.extent(0));
  check_direction(fn, "direction", direction);
  if (count < 1 || count > values.extent(0)) fail(fn, "count must be in [1, ", values.extent(0), "], got ", count);
}

// The analyses below the public functions: their arguments checked, their score vectors
// already fp64 copies (of host views, or fetched from the device by analysis.cuh), so that
// each backend checks and copies its inputs once. What they still check depends on the
// values.

inline kendall_result kendall_tau_b_top_k_union(const char* fn, const std::vector<double>& xs,
                                                const std::vector<double>& ys, index_t size, rank_direction direction,
                                                const kendall_options& options) {
  auto in_union = membership(head_of_ranking(xs, size, direction), static_cast<index_t>(xs.size()));
  for (const index_t i : head_of_ranking(ys, size, direction)) in_union[static_cast<std::size_t>(i)] = 1;
  std::vector<double> ux, uy;
  for (std::size_t i = 0; i < in_union.size(); ++i) {
    if (!in_union[i]) continue;
    ux.push_back(xs[i]);
    uy.push_back(ys[i]);
  }
  check_kendall_options(fn, options, static_cast<index_t>(ux.size()));
  return kendall_tau_b(ux, uy, options, fn);
}

inline unit_masks pruning_masks(const char* fn, std::vector<std::string> names, const std::vector<std::vector<double>>& values,
                                const pruning_options& options) {
  const bool ranked = options.selection != prune_selection::random;
  std::vector<index_t> ks;
  if (options.scope == prune_scope::per_layer) {
    for (std::size_t l = 0; l < values.size(); ++l) {
      const auto units = static_cast<index_t>(values[l].size());
      const std::string label = concat("options.amount (layers[", l, "], \"", names[l], "\")");
      ks.push_back(resolve_k(fn, label.c_str(), options.amount, units));
      if (ranked) {
        check_enough_numbers(fn, concat("layers[", l, "] (\"", names[l], "\") scores"), ks.back(), units,
                             count_nan(values[l]));
      }
    }
  } else {
    index_t units = 0, nan = 0;
    for (const auto& v : values) {
      units += static_cast<index_t>(v.size());
      nan += count_nan(v);
    }
    ks.push_back(resolve_k(fn, "options.amount", options.amount, units));
    if (ranked) check_enough_numbers(fn, "the layers together", ks.back(), units, nan);
  }
  return select_units(std::move(names), values, ks, options);
}

inline layer_selection select_layers(const std::vector<std::string>& names, const std::vector<double>& values,
                                     index_t count, rank_direction direction) {
  layer_selection selection;
  selection.points = head_of_ranking(values, count, direction);
  for (const index_t p : selection.points) selection.names.push_back(names[static_cast<std::size_t>(p)]);
  selection.nan_count = count_nan(values);
  return selection;
}

inline constexpr const char* argmax_meaning = "one sample id per unit";

// argmax holds sample ids already checked against sample_scores.
inline unit_sample_links units_to_samples(const char* fn, const std::vector<double>& unitmem,
                                          const std::vector<std::int64_t>& argmax,
                                          const std::vector<double>& sample_scores, const top_k& top_units) {
  const auto units = static_cast<index_t>(unitmem.size());
  const index_t k = resolve_k(fn, "top_units", top_units, units);
  check_enough_numbers(fn, "unitmem", k, units, count_nan(unitmem));
  return link_units(unitmem, argmax, sample_scores, k);
}

}  // namespace detail::analysis

// k for a selection of `k` out of n >= 1 items: k.count itself, or ceil(k.fraction * n)
// with products within 8 ulps of an integer taken as that integer (0.1 of 100 is 10).
inline index_t top_k_size(const top_k& k, index_t n) {
  constexpr const char* fn = "memloc::top_k_size";
  detail::check_at_least(fn, "n", 1, n);
  return detail::analysis::resolve_k(fn, "k", k, n);
}

// Every index of `scores`, best first: highest scores for top, lowest for least; equal
// scores in index order; NaN after every number in either direction.
template <class T, class Space>
ranking rank_scores(const host_exec&, const vector_view<T, Space>& scores, rank_direction direction = rank_direction::top) {
  detail::analysis::check_score_view<T, Space>();
  constexpr const char* fn = "memloc::rank_scores";
  detail::analysis::check_scores(fn, "scores", scores, 0);
  detail::analysis::check_direction(fn, "direction", direction);
  const auto values = detail::analysis::to_doubles(scores);
  return ranking{detail::order_by_score(values, direction == rank_direction::top), detail::analysis::count_nan(values)};
}

// The first k indices of rank_scores. NaN scores are taken only when k exceeds the count of
// numbers; nan_count says how many the input holds.
template <class T, class Space>
ranking top_k_indices(const host_exec&, const vector_view<T, Space>& scores, const top_k& k,
                      rank_direction direction = rank_direction::top) {
  detail::analysis::check_score_view<T, Space>();
  constexpr const char* fn = "memloc::top_k_indices";
  detail::analysis::check_scores(fn, "scores", scores, 1);
  detail::analysis::check_direction(fn, "direction", direction);
  const index_t size = detail::analysis::resolve_k(fn, "k", k, scores.extent(0));
  const auto values = detail::analysis::to_doubles(scores);
  return ranking{detail::analysis::head_of_ranking(values, size, direction), detail::analysis::count_nan(values)};
}

// |top-k(a) ∩ top-k(b)| for two score vectors over the same items (LOC §4.1: the overlap of
// the 100 most memorized samples of two layers), and that count over k.
template <class A, class SA, class B, class SB>
overlap_result top_k_overlap(const host_exec&, const vector_view<A, SA>& a, const vector_view<B, SB>& b, const top_k& k,
                             rank_direction direction = rank_direction::top) {
  detail::analysis::check_score_view<A, SA>();
  detail::analysis::check_score_view<B, SB>();
  constexpr const char* fn = "memloc::top_k_overlap";
  detail::analysis::check_pair(fn, a, b, 1, "a", "b");
  detail::analysis::check_direction(fn, "direction", direction);
  const index_t size = detail::analysis::resolve_k(fn, "k", k, a.extent(0));
  const auto top_a = detail::analysis::head_of_ranking(detail::analysis::to_doubles(a), size, direction);
  const auto top_b = detail::analysis::head_of_ranking(detail::analysis::to_doubles(b), size, direction);
  const index_t count = detail::analysis::intersection_size(detail::analysis::membership(top_a, a.extent(0)), top_b);
  return overlap_result{size, count, static_cast<double>(count) / static_cast<double>(size)};
}

// top_k_overlap for every pair of named score vectors (LOC Table 3), as a symmetric matrix
// with k on the diagonal.
template <class T, class Space>
overlap_matrix top_k_overlap_matrix(const host_exec&, const std::vector<named_scores<T, Space>>& points, const top_k& k,
                                    rank_direction direction = rank_direction::top) {
  detail::analysis::check_score_view<T, Space>();
  constexpr const char* fn = "memloc::top_k_overlap_matrix";
  detail::analysis::check_named(fn, "points", points, points.empty() ? 0 : points[0].scores.extent(0));
  detail::analysis::check_direction(fn, "direction", direction);
  const index_t items = points[0].scores.extent(0);
  const index_t size = detail::analysis::resolve_k(fn, "k", k, items);
  std::vector<std::string> names;
  std::vector<std::vector<index_t>> tops;
  for (const auto& point : points) {
    names.push_back(point.name);
    tops.push_back(detail::analysis::head_of_ranking(detail::analysis::to_doubles(point.scores), size, direction));
  }
  return detail::analysis::overlap_matrix_of(std::move(names), tops, items, size);
}

// Kendall's τ-b of paired scores x, y (n >= 2) and its p-value as
// scipy.stats.kendalltau(x, y, variant='b', method=..., alternative=...). A constant input,
// or a NaN in either, gives τ = p = NaN (SciPy, nan_policy='propagate').
template <class X, class SX, class Y, class SY>
kendall_result kendall_tau_b(const host_exec&, const vector_view<X, SX>& x, const vector_view<Y, SY>& y,
                             const kendall_options& options = {}) {
  detail::analysis::check_score_view<X, SX>();
  detail::analysis::check_score_view<Y, SY>();
  constexpr const char* fn = "memloc::kendall_tau_b";
  detail::analysis::check_pair(fn, x, y, 2);
  detail::analysis::check_kendall_options(fn, options, x.extent(0));
  return detail::analysis::kendall_tau_b(detail::analysis::to_doubles(x), detail::analysis::to_doubles(y), options, fn);
}

// τ-b over the items in the union of the top-k sets of x and of y (spec §5, A7: one of the
// readings of LOC Table 3, which does not say which items its τ covers). A union of one item
// gives NaN, as any single pair would in SciPy.
template <class X, class SX, class Y, class SY>
kendall_result kendall_tau_b_top_k_union(const host_exec&, const vector_view<X, SX>& x, const vector_view<Y, SY>& y,
                                         const top_k& k, rank_direction direction = rank_direction::top,
                                         const kendall_options& options = {}) {
  detail::analysis::check_score_view<X, SX>();
  detail::analysis::check_score_view<Y, SY>();
  constexpr const char* fn = "memloc::kendall_tau_b_top_k_union";
  detail::analysis::check_pair(fn, x, y, 1);
  detail::analysis::check_direction(fn, "direction", direction);
  const index_t size = detail::analysis::resolve_k(fn, "k", k, x.extent(0));
  return detail::analysis::kendall_tau_b_top_k_union(fn, detail::analysis::to_doubles(x), detail::analysis::to_doubles(y),
                                                     size, direction, options);
}

// The summary (n, mean, m2) of raw values, in two passes; merging it with others equals the
// summary of all values up to rounding.
template <class T, class Space>
sample_summary summarize(const host_exec&, const vector_view<T, Space>& values) {
  detail::analysis::check_score_view<T, Space>();
  constexpr const char* fn = "memloc::summarize";
  detail::analysis::check_scores(fn, "values", values, 0);
  return detail::analysis::summarize(detail::analysis::to_doubles(values));
}

// Two-sample t-test of a against b from their summaries, as scipy.stats.ttest_ind(a, b,
// equal_var=(kind == student), alternative=...): t = (mean_a - mean_b) / standard error.
// Each sample needs n >= 2 (SciPy returns NaN below that; memloc rejects it).
inline t_test_result t_test(const sample_summary& a, const sample_summary& b, const t_test_options& options = {}) {
  constexpr const char* fn = "memloc::t_test";
  detail::analysis::check_t_test_options(fn, options);
  detail::analysis::check_summary(fn, "a", a);
  detail::analysis::check_summary(fn, "b", b);
  return detail::analysis::t_test(a, b, options);
}

// The same test from raw values; a NaN among them makes every result NaN.
template <class A, class SA, class B, class SB>
t_test_result t_test(const host_exec&, const vector_view<A, SA>& a, const vector_view<B, SB>& b,
                     const t_test_options& options = {}) {
  detail::analysis::check_score_view<A, SA>();
  detail::analysis::check_score_view<B, SB>();
  constexpr const char* fn = "memloc::t_test";
  detail::analysis::check_t_test_options(fn, options);
  detail::analysis::check_scores(fn, "a", a, 2);
  detail::analysis::check_scores(fn, "b", b, 2);
  return detail::analysis::t_test(detail::analysis::summarize(detail::analysis::to_doubles(a)),
                                  detail::analysis::summarize(detail::analysis::to_doubles(b)), options);
}

// Units to prune by UnitMem (LOC Table 6): the top, low or random `options.amount` of the
// units of each layer (per_layer) or of all layers together (total). A fraction p takes
// ceil(p * units) units. NaN UnitMem units are never taken as top or low; fewer numbers than
// the amount is an error.
template <class T, class Space>
unit_masks pruning_masks(const host_exec&, const std::vector<named_scores<T, Space>>& layers,
                         const pruning_options& options = {}) {
  detail::analysis::check_score_view<T, Space>();
  constexpr const char* fn = "memloc::pruning_masks";
  detail::check_enum(fn, "options.selection", options.selection, prune_selection::random);
  detail::check_enum(fn, "options.scope", options.scope, prune_scope::total);
  detail::analysis::check_named(fn, "layers", layers, -1);
  std::vector<std::string> names;
  std::vector<std::vector<double>> values;
  for (const auto& layer : layers) {
    names.push_back(layer.name);
    values.push_back(detail::analysis::to_doubles(layer.scores));
  }
  return detail::analysis::pruning_masks(fn, std::move(names), values, options);
}

// The `count` measurement points with the highest (top) or lowest (least) values, e.g.
// LayerMem or ΔLayerMem from memloc::layermem; ties by list order; NaN (ΔLayerMem of the
// first point) after every number (LOC Tables 5 and 21; spec A14).
template <class T, class Space>
layer_selection select_layers(const host_exec&, const std::vector<std::string>& names, const vector_view<T, Space>& values,
                              index_t count, rank_direction direction = rank_direction::top) {
  detail::analysis::check_score_view<T, Space>();
  constexpr const char* fn = "memloc::select_layers";
  detail::analysis::check_select_layers(fn, names, values, count, direction);
  return detail::analysis::select_layers(names, detail::analysis::to_doubles(values), count, direction);
}

// Units and samples (LOC Fig. 1b, Table 12): unitmem and argmax as UnitMem reports them (one
// per unit; argmax a sample id), sample_scores indexed by sample id (e.g. SSLMem). The top
// units are the top_units highest UnitMem values; NaN units are never among them.
template <class U, class SU, class I, class SI, class S, class SS>
unit_sample_links units_to_samples(const host_exec&, const vector_view<U, SU>& unitmem, const vector_view<I, SI>& argmax,
                                   const vector_view<S, SS>& sample_scores, const top_k& top_units) {
  detail::analysis::check_score_view<U, SU>();
  detail::analysis::check_score_view<S, SS>();
  static_assert(detail::is_index_element_v<I>, "argmax ids must be integers");
  static_assert(host_accessible_v<SI>, "host_exec needs host or managed memory");
  constexpr const char* fn = "memloc::units_to_samples";
  detail::analysis::check_scores(fn, "unitmem", unitmem, 1);
  detail::analysis::check_scores(fn, "sample_scores", sample_scores, 1);
  detail::check_indices(fn, "argmax", detail::analysis::argmax_meaning, argmax, unitmem.extent(0), sample_scores.extent(0));
  std::vector<std::int64_t> ids(static_cast<std::size_t>(argmax.extent(0)));
  for (index_t u = 0; u < argmax.extent(0); ++u) ids[static_cast<std::size_t>(u)] = static_cast<std::int64_t>(argmax(u));
  return detail::analysis::units_to_samples(fn, detail::analysis::to_doubles(unitmem), ids,
                                            detail::analysis::to_doubles(sample_scores), top_units);
}

}  // namespace memloc
