#pragma once

// ClassMem test bodies, shared by every backend.

#include <algorithm>
#include <random>

#include "unitmem_bodies.hpp"

namespace testing {

struct class_run {
  memloc::classmem_report report;
  std::vector<double> classmem, mu_max, mu_rest;
  std::vector<std::int64_t> max_class;
};

template <class B, class Acc>
class_run finalize_classes(typename B::arena& mem, const Acc& acc, index_t units) {
  auto cm = mem.template output<double>(units);
  auto mx = mem.template output<double>(units);
  auto rest = mem.template output<double>(units);
  auto mc = mem.template output<std::int64_t>(units, -1);
  class_run r;
  r.report = acc.finalize(B::exec(), memloc::classmem_outputs<typename B::space>{cm.view(), mx.view(), mc.view(), rest.view()});
  r.classmem = mem.fetch(cm);
  r.mu_max = mem.fetch(mx);
  r.mu_rest = mem.fetch(rest);
  r.max_class = mem.fetch(mc);
  return r;
}

template <class B, class T>
void classmem_matches_oracle_for_type() {
  const index_t N = 37, V = 2, U = 5, S = 6, C = 7;
  std::uint64_t seed = 300;
  for (const act_layout layout : all_act_layouts()) {
    for (const auto transform : {memloc::activation_transform::none, memloc::activation_transform::relu,
                                 memloc::activation_transform::abs}) {
      const auto values = random_activations(N, V, U, S, ++seed, -0.5, 2.0);
      std::vector<std::int64_t> labels(static_cast<std::size_t>(N));
      std::mt19937_64 gen(seed);
      // Class 3 gets no samples: the rest must average only the classes that have some.
      for (auto& l : labels) {
        l = static_cast<std::int64_t>(gen() % (C - 1));
        if (l >= 3) ++l;
      }
      typename B::arena mem;
      auto stored = store_activations<T>(values, layout);
      auto ids = iota_ids(N);
      auto acts = mem.place(stored.storage, stored.view);
      auto id_view = mem.place(ids, memloc::make_vector_view(ids.data(), N));
      auto label_view = mem.place(labels, memloc::make_vector_view(labels.data(), N));
      memloc::classmem_accumulator acc(B::exec(), memloc::classmem_shape{N, U, V, S, C}, {transform});
      acc.update(B::exec(), acts, id_view, label_view);
      const auto run = finalize_classes<B>(mem, acc, U);
      const auto expected = oracle::classmem(oracle::mu(stored.logical, to_oracle(transform)), labels, C);
      const std::string what = std::string(type_name<T>()) + " " + layout_name(layout);
      CHECK(run.report.samples == N);
      CHECK(run.report.classes_with_samples == C - 1);
      check_close(run.classmem, expected.value, unitmem_tolerance, unitmem_tolerance, what + " classmem");
      check_close(run.mu_max, expected.top, mu_tolerance, mu_tolerance, what + " class mu_max");
      check_close(run.mu_rest, expected.rest, mu_tolerance, mu_tolerance, what + " class mu_rest");
      CHECK(run.max_class == expected.top_index);
      CHECK(run.report.nan_units == expected.nan_units);
    }
  }
}

TEST_CASE_TEMPLATE_DEFINE("classmem: every dtype, layout and transform matches the oracle", B, classmem_oracle) {
  classmem_matches_oracle_for_type<B, float>();
  classmem_matches_oracle_for_type<B, double>();
  classmem_matches_oracle_for_type<B, memloc::half>();
  classmem_matches_oracle_for_type<B, memloc::bfloat16>();
}

// ClassMem of dense activations (one view, one position) with the given labels.
template <class B>
class_run classmem_dense(const oracle::activations& a, std::vector<std::int64_t> labels, index_t classes) {
  typename B::arena mem;
  auto ids = iota_ids(a.samples);
  auto stored = store_activations<float>(a, act_layout::dense);
  memloc::classmem_accumulator acc(B::exec(), memloc::classmem_shape{a.samples, a.units, 1, 1, classes});
  acc.update(B::exec(), mem.place(stored.storage, stored.view), mem.place(ids, memloc::make_vector_view(ids.data(), a.samples)),
             mem.place(labels, memloc::make_vector_view(labels.data(), a.samples)));
  return finalize_classes<B>(mem, acc, a.units);
}

// Many classes and rows: a backend may keep per-class sums differently for few and for many
// classes, and fold long batches in row segments.
TEST_CASE_TEMPLATE_DEFINE("classmem: few and many classes over long batches match the oracle", B, classmem_class_counts) {
  for (const index_t C : {index_t{2}, index_t{24}, index_t{25}, index_t{300}}) {
    const index_t N = 700, U = 33;
    const auto values = random_activations(N, 1, U, 1, 40 + static_cast<std::uint64_t>(C), -0.5, 2.0);
    std::vector<std::int64_t> labels(static_cast<std::size_t>(N));
    for (index_t i = 0; i < N; ++i) labels[static_cast<std::size_t>(i)] = (i * 7) % C;
    const auto run = classmem_dense<B>(values, labels, C);
    oracle::activations logical = store_activations<float>(values, act_layout::dense).logical;
    const auto expected = oracle::classmem(oracle::mu(logical, oracle::transform::none), labels, C);
    const std::string what = std::to_string(C) + " classes";
    check_close(run.classmem, expected.value, unitmem_tolerance, unitmem_tolerance, what + " classmem");
    check_close(run.mu_rest, expected.rest, mu_tolerance, mu_tolerance, what + " class mu_rest");
    CHECK(run.max_class == expected.top_index);
  }
}

TEST_CASE_TEMPLATE_DEFINE("classmem: hand-computed values", B, classmem_hand) {
  // Four samples, two classes, one unit. Class 0 μ: 4 and 2 -> mean 3; class 1 μ: 1 and 0
  // -> mean 0.5. ClassMem = (3 - 0.5) / (3 + 0.5) = 5/7. A second unit ties both classes at
  // 1: the first class wins and ClassMem is 0.
  const auto run = classmem_dense<B>(oracle::activations{4, 1, 2, 1, {4, 1, 1, 1, 2, 1, 0, 1}}, {0, 1, 0, 1}, 2);
  CHECK(run.classmem[0] == doctest::Approx(5.0 / 7).epsilon(1e-12));
  CHECK(run.mu_max[0] == doctest::Approx(3.0));
  CHECK(run.mu_rest[0] == doctest::Approx(0.5));
  CHECK(run.max_class[0] == 0);
  CHECK(run.classmem[1] == 0.0);
  CHECK(run.max_class[1] == 0);
}

TEST_CASE_TEMPLATE_DEFINE("classmem: a NaN in any class makes the unit NaN", B, classmem_nan) {
  const auto run = classmem_dense<B>(oracle::activations{4, 1, 1, 1, {4, std::nan(""), 2, 0}}, {0, 1, 0, 1}, 2);
  CHECK(std::isnan(run.classmem[0]));
  CHECK(std::isnan(run.mu_max[0]));
  CHECK(std::isnan(run.mu_rest[0]));
  CHECK(run.report.nan_units == 1);
}

TEST_CASE_TEMPLATE_DEFINE("classmem: streaming in random batches and merges equals one shot", B, classmem_streaming) {
  const index_t N = 33, V = 2, U = 4, S = 3, C = 4;
  const auto values = random_activations(N, V, U, S, 909, 0.0, 1.0);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(N));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>(i % C);
  auto ids = iota_ids(N);
  const memloc::classmem_shape shape{N, U, V, S, C};
  typename B::arena mem;
  // The fold's fp32 summation order depends on the layout, so all batches share one.
  const act_layout layout = act_layout::token_major_view_major;
  auto whole_stored = store_activations<float>(values, layout);
  memloc::classmem_accumulator whole(B::exec(), shape);
  whole.update(B::exec(), mem.place(whole_stored.storage, whole_stored.view),
               mem.place(ids, memloc::make_vector_view(ids.data(), N)),
               mem.place(labels, memloc::make_vector_view(labels.data(), N)));
  const auto expected = finalize_classes<B>(mem, whole, U);
  for (std::uint64_t trial = 0; trial < 5; ++trial) {
    std::mt19937_64 gen(trial);
    std::vector<index_t> order(static_cast<std::size_t>(N));
    std::iota(order.begin(), order.end(), index_t{0});
    std::shuffle(order.begin(), order.end(), gen);
    std::vector<memloc::classmem_accumulator<typename B::space>> accs;
    for (int i = 0; i < 3; ++i) accs.emplace_back(B::exec(), shape);
    std::vector<stored_activations<float>> keep;
    std::vector<std::vector<std::int64_t>> keep_ids, keep_labels;
    keep.reserve(static_cast<std::size_t>(N));
    keep_ids.reserve(static_cast<std::size_t>(N));
    keep_labels.reserve(static_cast<std::size_t>(N));
    for (std::size_t i = 0; i < order.size();) {
      const std::size_t j = std::min(order.size(), i + 1 + gen() % 7);
      std::vector<index_t> part(order.begin() + static_cast<std::ptrdiff_t>(i), order.begin() + static_cast<std::ptrdiff_t>(j));
      keep.push_back(store_activations<float>(slice(values, part, 0, V), layout));
      keep_ids.emplace_back();
      keep_labels.emplace_back();
      for (const index_t p : part) {
        keep_ids.back().push_back(ids[static_cast<std::size_t>(p)]);
        keep_labels.back().push_back(labels[static_cast<std::size_t>(p)]);
      }
      const auto n = static_cast<index_t>(part.size());
      accs[gen() % 3].update(B::exec(), mem.place(keep.back().storage, keep.back().view),
                             mem.place(keep_ids.back(), memloc::make_vector_view(keep_ids.back().data(), n)),
                             mem.place(keep_labels.back(), memloc::make_vector_view(keep_labels.back().data(), n)));
      i = j;
    }
    accs[1].merge(B::exec(), accs[2]);
    accs[0].merge(B::exec(), accs[1]);
    const auto got = finalize_classes<B>(mem, accs[0], U);
    CHECK(got.report.samples == N);
    CHECK(got.max_class == expected.max_class);
    check_close(got.classmem, expected.classmem, 1e-12, 1e-14, "streamed classmem");
    check_close(got.mu_max, expected.mu_max, 1e-12, 1e-14, "streamed class mu_max");
  }
}

// More than 24 classes: the device groups a chunk's rows by label and adds each class's rows
// in row order, as the host does and as metrics.md asks, so with one view and one position
// (μ is the fp32 value itself on every backend) each class mean, and so μ_max and the top
// class, equals the oracle's (which adds in row order) exactly; the mean of the other classes
// to fp64 addition order. Classes repeat within the batch (one class takes every third
// row), some classes get no sample, a NaN reaches one unit, and units are not a multiple of
// a warp.
TEST_CASE_TEMPLATE_DEFINE("classmem: many classes with repeated labels add rows in row order", B,
                          classmem_many_classes) {
  for (const index_t C : {index_t{25}, index_t{40}, index_t{1000}}) {
    const index_t N = 300, U = 37;
    auto values = random_activations(N, 1, U, 1, 60 + static_cast<std::uint64_t>(C), -0.5, 2.0);
    for (double& x : values.values) x = static_cast<double>(static_cast<float>(x));  // what the fp32 batch holds
    values.values[static_cast<std::size_t>(11 * U + 4)] = std::nan("");
    // A sum that depends on the order of its rows: in unit 3, rows 3 and 6 of class 5 hold
    // +2^60 and -2^60, so in row order the class loses row 0's value and keeps the later ones.
    values.values[static_cast<std::size_t>(3 * U + 3)] = std::ldexp(1.0, 60);
    values.values[static_cast<std::size_t>(6 * U + 3)] = -std::ldexp(1.0, 60);
    std::vector<std::int64_t> labels(static_cast<std::size_t>(N));
    for (index_t i = 0; i < N; ++i) labels[static_cast<std::size_t>(i)] = i % 3 == 0 ? 5 : (i * 13 + i / 7) % (C - 1);
    const auto got = classmem_dense<B>(values, labels, C);
    const auto expected = oracle::classmem(oracle::mu(values, oracle::transform::none), labels, C);
    const std::string what = std::string(B::name) + " " + std::to_string(C) + " classes";
    CHECK(got.report.nan_units == expected.nan_units);
    CHECK(got.report.nan_units >= 1);
    CHECK(got.max_class == expected.top_index);
    check_equal_values(got.mu_max, expected.top, what + " mu_max");
    check_close(got.mu_rest, expected.rest, 1e-13, 1e-15, what + " mu_rest");
    check_close(got.classmem, expected.value, 1e-13, 1e-15, what + " classmem");
    const auto again = classmem_dense<B>(values, labels, C);
    check_same_bits(again.classmem, got.classmem, what + " again classmem");
    check_same_bits(again.mu_rest, got.mu_rest, what + " again mu_rest");
  }
}

}  // namespace testing
