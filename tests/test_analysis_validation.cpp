// Every argument check of the analysis functions: the error type, and a message naming the
// function, the argument, the expected and the actual value.

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "analysis_support.hpp"

namespace testing {
namespace {

TEST_CASE("validation: top_k specifications") {
  const std::vector<double> s{1, 2, 3, 4};
  CHECK_ANALYSIS_ERROR(memloc::top_k_size(top_count(2), 0), "memloc::top_k_size: n must be >= 1, got 0");
  CHECK_ANALYSIS_ERROR(memloc::top_k_size(top_count(0), 4), "memloc::top_k_size: k.count must be in [1, 4], got 0");
  CHECK_ANALYSIS_ERROR(memloc::top_k_size(top_count(5), 4), "k.count must be in [1, 4], got 5");
  CHECK_ANALYSIS_ERROR(memloc::top_k_size(top_count(-1), 4), "k.count must be in [1, 4], got -1");
  CHECK_ANALYSIS_ERROR(memloc::top_k_size(top_fraction(0.0), 4), "k.fraction must be in (0, 1], got 0");
  CHECK_ANALYSIS_ERROR(memloc::top_k_size(top_fraction(1.5), 4), "k.fraction must be in (0, 1], got 1.5");
  CHECK_ANALYSIS_ERROR(memloc::top_k_size(top_fraction(-0.1), 4), "k.fraction must be in (0, 1], got -0.1");
  CHECK_ANALYSIS_ERROR(memloc::top_k_size(top_fraction(nan), 4), "k.fraction must be in (0, 1], got nan");
  CHECK_ANALYSIS_ERROR(memloc::top_k_size(memloc::top_k{static_cast<memloc::top_k_kind>(2), 1, 0.5}, 4),
                       "k.kind must be a named enumerator in [0, 1], got 2");
  CHECK_ANALYSIS_ERROR(memloc::top_k_indices(exec, view_of(s), top_count(9)),
                       "memloc::top_k_indices: k.count must be in [1, 4], got 9");
}

TEST_CASE("validation: rankings and overlaps") {
  const std::vector<double> s{1, 2, 3, 4}, three{1, 2, 3}, empty;
  CHECK_ANALYSIS_ERROR(memloc::rank_scores(exec, view_of(s), static_cast<memloc::rank_direction>(2)),
                       "memloc::rank_scores: direction must be a named enumerator in [0, 1], got 2");
  CHECK_ANALYSIS_ERROR(memloc::rank_scores(exec, memloc::vector_view<const double>(nullptr, {3})),
                       "memloc::rank_scores: scores data_handle() must be non-null for 3 elements, got nullptr");
  CHECK_ANALYSIS_ERROR(memloc::rank_scores(exec, memloc::vector_view<const double>(s.data(), {4}, {-1})),
                       "scores stride(0) must be >= 0, got -1");
  CHECK_ANALYSIS_ERROR(memloc::top_k_indices(exec, view_of(empty), top_count(1)),
                       "memloc::top_k_indices: scores extent(0) (items) must be >= 1, got 0");
  CHECK_ANALYSIS_ERROR(memloc::top_k_indices(exec, view_of(s), top_count(1), static_cast<memloc::rank_direction>(-1)),
                       "direction must be a named enumerator in [0, 1], got -1");
  CHECK_ANALYSIS_ERROR(memloc::top_k_overlap(exec, view_of(s), view_of(three), top_count(2)),
                       "memloc::top_k_overlap: b extent(0) (items, as in a) must be 4, got 3");
  CHECK_ANALYSIS_ERROR(memloc::top_k_overlap(exec, view_of(empty), view_of(empty), top_count(1)),
                       "memloc::top_k_overlap: a extent(0) (items) must be >= 1, got 0");
  CHECK_ANALYSIS_ERROR(memloc::top_k_overlap(exec, view_of(s), view_of(s), top_fraction(2.0)),
                       "memloc::top_k_overlap: k.fraction must be in (0, 1], got 2");

  using points = std::vector<memloc::named_scores<>>;
  CHECK_ANALYSIS_ERROR(memloc::top_k_overlap_matrix(exec, points{}, top_count(1)),
                       "memloc::top_k_overlap_matrix: points.size() must be >= 1, got 0");
  CHECK_ANALYSIS_ERROR(memloc::top_k_overlap_matrix(exec, points{{"", view_of(s)}}, top_count(1)),
                       "points[0].name must be non-empty, got \"\"");
  CHECK_ANALYSIS_ERROR(memloc::top_k_overlap_matrix(exec, points{{"a", view_of(s)}, {"a", view_of(s)}}, top_count(1)),
                       "points[1].name must be unique, got \"a\" again");
  CHECK_ANALYSIS_ERROR(memloc::top_k_overlap_matrix(exec, points{{"a", view_of(s)}, {"b", view_of(three)}}, top_count(1)),
                       "points[1] (\"b\") scores extent(0) (items, as in points[0]) must be 4, got 3");
  CHECK_ANALYSIS_ERROR(memloc::top_k_overlap_matrix(exec, points{{"a", view_of(empty)}}, top_count(1)),
                       "points[0] (\"a\") scores extent(0) (items) must be >= 1, got 0");
  CHECK_ANALYSIS_ERROR(memloc::top_k_overlap_matrix(exec, points{{"a", view_of(s)}}, top_count(5)),
                       "memloc::top_k_overlap_matrix: k.count must be in [1, 4], got 5");
  CHECK_ANALYSIS_ERROR(
      memloc::top_k_overlap_matrix(exec, points{{"a", view_of(s)}}, top_count(1), static_cast<memloc::rank_direction>(3)),
      "memloc::top_k_overlap_matrix: direction must be a named enumerator in [0, 1], got 3");
}

TEST_CASE("validation: Kendall's τ-b") {
  const std::vector<double> one{1}, s{1, 2, 3, 4}, three{1, 2, 3}, tied{1, 1, 2, 3};
  CHECK_ANALYSIS_ERROR(memloc::kendall_tau_b(exec, view_of(one), view_of(one)),
                       "memloc::kendall_tau_b: x extent(0) (items) must be >= 2, got 1");
  CHECK_ANALYSIS_ERROR(memloc::kendall_tau_b(exec, view_of(s), view_of(three)),
                       "memloc::kendall_tau_b: y extent(0) (items, as in x) must be 4, got 3");
  CHECK_ANALYSIS_ERROR(memloc::kendall_tau_b(exec, view_of(s), view_of(s), {static_cast<memloc::alternative>(3)}),
                       "memloc::kendall_tau_b: options.alternative must be a named enumerator in [0, 2], got 3");
  CHECK_ANALYSIS_ERROR(memloc::kendall_tau_b(exec, view_of(s), view_of(s),
                                             {memloc::alternative::two_sided, static_cast<memloc::kendall_method>(5)}),
                       "memloc::kendall_tau_b: options.method must be a named enumerator in [0, 2], got 5");
  CHECK_ANALYSIS_ERROR(memloc::kendall_tau_b(exec, view_of(tied), view_of(s),
                                             {memloc::alternative::two_sided, memloc::kendall_method::exact}),
                       "memloc::kendall_tau_b: options.method must be automatic or asymptotic for inputs with ties, got "
                       "exact (1 pairs tied in x, 0 in y)");
  const std::vector<double> big(1001, 0.0);
  CHECK_ANALYSIS_ERROR(memloc::kendall_tau_b(exec, view_of(big), view_of(big),
                                             {memloc::alternative::two_sided, memloc::kendall_method::exact}),
                       "memloc::kendall_tau_b: options.method exact needs n <= 1000 (its cost grows as n^3; use automatic "
                       "or asymptotic), got n = 1001");
  CHECK_ANALYSIS_ERROR(memloc::kendall_tau_b_top_k_union(exec, view_of(s), view_of(three), top_count(2)),
                       "memloc::kendall_tau_b_top_k_union: y extent(0) (items, as in x) must be 4, got 3");
  CHECK_ANALYSIS_ERROR(memloc::kendall_tau_b_top_k_union(exec, view_of(s), view_of(s), top_count(0)),
                       "memloc::kendall_tau_b_top_k_union: k.count must be in [1, 4], got 0");
  CHECK_ANALYSIS_ERROR(memloc::kendall_tau_b_top_k_union(exec, view_of(s), view_of(s), top_count(2),
                                                         static_cast<memloc::rank_direction>(2)),
                       "memloc::kendall_tau_b_top_k_union: direction must be a named enumerator in [0, 1], got 2");
  CHECK_ANALYSIS_ERROR(memloc::kendall_tau_b_top_k_union(exec, view_of(s), view_of(s), top_count(2),
                                                         memloc::rank_direction::top,
                                                         {memloc::alternative::two_sided, static_cast<memloc::kendall_method>(9)}),
                       "memloc::kendall_tau_b_top_k_union: options.method must be a named enumerator in [0, 2], got 9");
}

TEST_CASE("validation: t-tests") {
  const std::vector<double> one{1}, s{1, 2, 3};
  CHECK_ANALYSIS_ERROR(memloc::t_test(exec, view_of(one), view_of(s)), "memloc::t_test: a extent(0) (items) must be >= 2, got 1");
  CHECK_ANALYSIS_ERROR(memloc::t_test(exec, view_of(s), view_of(one)), "memloc::t_test: b extent(0) (items) must be >= 2, got 1");
  CHECK_ANALYSIS_ERROR(memloc::t_test(exec, view_of(s), view_of(s), {static_cast<memloc::t_test_kind>(2)}),
                       "memloc::t_test: options.kind must be a named enumerator in [0, 1], got 2");
  CHECK_ANALYSIS_ERROR(
      memloc::t_test(exec, view_of(s), view_of(s), {memloc::t_test_kind::welch, static_cast<memloc::alternative>(-2)}),
      "memloc::t_test: options.alternative must be a named enumerator in [0, 2], got -2");
  const memloc::sample_summary good{3, 2.0, 2.0};
  CHECK_ANALYSIS_ERROR(memloc::t_test(memloc::sample_summary{1, 1.0, 0.0}, good),
                       "memloc::t_test: a.n must be >= 2 (a variance needs two values; SciPy gives NaN), got 1");
  CHECK_ANALYSIS_ERROR(memloc::t_test(good, memloc::sample_summary{}),
                       "memloc::t_test: b.n must be >= 2 (a variance needs two values; SciPy gives NaN), got 0");
  CHECK_ANALYSIS_ERROR(memloc::t_test(good, memloc::sample_summary{4, 1.0, -1.0}),
                       "memloc::t_test: b.m2 must be >= 0 (a sum of squares), got -1");
  CHECK_ANALYSIS_ERROR(memloc::t_test(good, good, {static_cast<memloc::t_test_kind>(7)}),
                       "memloc::t_test: options.kind must be a named enumerator in [0, 1], got 7");
  CHECK_ANALYSIS_ERROR(memloc::t_test(good, good, {memloc::t_test_kind::student, static_cast<memloc::alternative>(3)}),
                       "memloc::t_test: options.alternative must be a named enumerator in [0, 2], got 3");
  CHECK_ANALYSIS_ERROR(memloc::summarize(exec, memloc::vector_view<const double>(nullptr, {2})),
                       "memloc::summarize: values data_handle() must be non-null for 2 elements, got nullptr");
}

TEST_CASE("validation: pruning masks") {
  const std::vector<double> a{0.1, 0.2, nan, nan}, b{0.3, 0.4}, empty;
  using layers = std::vector<memloc::named_scores<>>;
  const layers good{{"conv1", view_of(a)}, {"conv2", view_of(b)}};
  using memloc::prune_scope;
  using memloc::prune_selection;
  CHECK_ANALYSIS_ERROR(memloc::pruning_masks(exec, layers{}), "memloc::pruning_masks: layers.size() must be >= 1, got 0");
  CHECK_ANALYSIS_ERROR(memloc::pruning_masks(exec, layers{{"conv1", view_of(a)}, {"conv1", view_of(b)}}),
                       "memloc::pruning_masks: layers[1].name must be unique, got \"conv1\" again");
  CHECK_ANALYSIS_ERROR(memloc::pruning_masks(exec, layers{{"conv1", view_of(empty)}}),
                       "memloc::pruning_masks: layers[0] (\"conv1\") scores extent(0) (items) must be >= 1, got 0");
  CHECK_ANALYSIS_ERROR(memloc::pruning_masks(exec, good, {static_cast<prune_selection>(3)}),
                       "memloc::pruning_masks: options.selection must be a named enumerator in [0, 2], got 3");
  CHECK_ANALYSIS_ERROR(memloc::pruning_masks(exec, good, {prune_selection::top, static_cast<prune_scope>(2)}),
                       "memloc::pruning_masks: options.scope must be a named enumerator in [0, 1], got 2");
  CHECK_ANALYSIS_ERROR(memloc::pruning_masks(exec, good, {prune_selection::random, prune_scope::per_layer, top_count(3)}),
                       "memloc::pruning_masks: options.amount (layers[1], \"conv2\").count must be in [1, 2], got 3");
  CHECK_ANALYSIS_ERROR(memloc::pruning_masks(exec, good, {prune_selection::low, prune_scope::per_layer, top_fraction(0.75)}),
                       "memloc::pruning_masks: layers[0] (\"conv1\") scores must hold at least 3 non-NaN scores to select "
                       "from, got 2 (2 of 4 are NaN)");
  CHECK_ANALYSIS_ERROR(memloc::pruning_masks(exec, good, {prune_selection::top, prune_scope::total, top_count(5)}),
                       "memloc::pruning_masks: the layers together must hold at least 5 non-NaN scores to select from, got 4 "
                       "(2 of 6 are NaN)");
  CHECK_ANALYSIS_ERROR(memloc::pruning_masks(exec, good, {prune_selection::random, prune_scope::total, top_count(7)}),
                       "memloc::pruning_masks: options.amount.count must be in [1, 6], got 7");
  CHECK_ANALYSIS_ERROR(memloc::pruning_masks(exec, good, {prune_selection::random, prune_scope::total, top_fraction(0.0)}),
                       "memloc::pruning_masks: options.amount.fraction must be in (0, 1], got 0");
  // Random selections ignore scores, NaN or not.
  CHECK(memloc::pruning_masks(exec, good, {prune_selection::random, prune_scope::per_layer, top_count(2)}).units[0].size() == 2);
}

TEST_CASE("validation: layer selection") {
  const std::vector<double> v{0.1, 0.2, 0.3};
  const std::vector<std::string> names{"a", "b", "c"}, two{"a", "b"};
  CHECK_ANALYSIS_ERROR(memloc::select_layers(exec, two, view_of(v), 1),
                       "memloc::select_layers: values extent(0) (one per name) must be 2, got 3");
  CHECK_ANALYSIS_ERROR(memloc::select_layers(exec, names, view_of(v), 0), "memloc::select_layers: count must be in [1, 3], got 0");
  CHECK_ANALYSIS_ERROR(memloc::select_layers(exec, names, view_of(v), 4), "memloc::select_layers: count must be in [1, 3], got 4");
  CHECK_ANALYSIS_ERROR(memloc::select_layers(exec, names, view_of(v), 1, static_cast<memloc::rank_direction>(2)),
                       "memloc::select_layers: direction must be a named enumerator in [0, 1], got 2");
  CHECK_ANALYSIS_ERROR(memloc::select_layers(exec, std::vector<std::string>{}, view_of(std::vector<double>{}), 1),
                       "memloc::select_layers: values extent(0) (items) must be >= 1, got 0");
}

TEST_CASE("validation: units and samples") {
  const std::vector<double> unitmem{0.5, nan, 0.2}, scores{0.1, 0.2};
  const std::vector<std::int64_t> ids{0, 1, 1}, short_ids{0, 1}, bad{0, 2, 1}, negative{0, -1, 1};
  CHECK_ANALYSIS_ERROR(memloc::units_to_samples(exec, view_of(unitmem), view_of(short_ids), view_of(scores), top_count(1)),
                       "memloc::units_to_samples: argmax extent(0) (one sample id per unit) must be 3, got 2");
  CHECK_ANALYSIS_ERROR(memloc::units_to_samples(exec, view_of(unitmem), view_of(bad), view_of(scores), top_count(1)),
                       "memloc::units_to_samples: argmax(1) must be in [0, 2), got 2");
  CHECK_ANALYSIS_ERROR(memloc::units_to_samples(exec, view_of(unitmem), view_of(negative), view_of(scores), top_count(1)),
                       "memloc::units_to_samples: argmax(1) must be in [0, 2), got -1");
  CHECK_ANALYSIS_ERROR(memloc::units_to_samples(exec, view_of(unitmem), view_of(ids), view_of(std::vector<double>{}), top_count(1)),
                       "memloc::units_to_samples: sample_scores extent(0) (items) must be >= 1, got 0");
  CHECK_ANALYSIS_ERROR(memloc::units_to_samples(exec, view_of(std::vector<double>{}), view_of(std::vector<std::int64_t>{}),
                                                view_of(scores), top_count(1)),
                       "memloc::units_to_samples: unitmem extent(0) (items) must be >= 1, got 0");
  CHECK_ANALYSIS_ERROR(memloc::units_to_samples(exec, view_of(unitmem), view_of(ids), view_of(scores), top_count(4)),
                       "memloc::units_to_samples: top_units.count must be in [1, 3], got 4");
  CHECK_ANALYSIS_ERROR(memloc::units_to_samples(exec, view_of(unitmem), view_of(ids), view_of(scores), top_count(3)),
                       "memloc::units_to_samples: unitmem must hold at least 3 non-NaN scores to select from, got 2 (1 of 3 "
                       "are NaN)");
}

}  // namespace
}  // namespace testing
