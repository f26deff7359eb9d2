#pragma once

// UnitMem test bodies, shared by every backend (instantiated per backend in a .cpp / .cu).

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "../test_support.hpp"

namespace testing {

inline oracle::transform to_oracle(memloc::activation_transform t) {
  return t == memloc::activation_transform::relu ? oracle::transform::relu
                                                 : (t == memloc::activation_transform::abs ? oracle::transform::abs
                                                                                           : oracle::transform::none);
}

// What a UnitMem run produced, on the host.
struct unit_run {
  memloc::unitmem_report report;
  std::vector<double> unitmem, mu_max, mu_rest;
  std::vector<std::int64_t> argmax;
};

template <class B, class Acc>
unit_run finalize_units(typename B::arena& mem, const Acc& acc, index_t units) {
  auto um = mem.template output<double>(units);
  auto mx = mem.template output<double>(units);
  auto rest = mem.template output<double>(units);
  auto am = mem.template output<std::int64_t>(units, -1);
  unit_run r;
  r.report = acc.finalize(B::exec(), memloc::unitmem_outputs<typename B::space>{um.view(), mx.view(), am.view(), rest.view()});
  r.unitmem = mem.fetch(um);
  r.mu_max = mem.fetch(mx);
  r.mu_rest = mem.fetch(rest);
  r.argmax = mem.fetch(am);
  return r;
}

// Folds `values` (sample i has id ids[i]) in one batch stored as T in `layout`.
template <class B, class T>
unit_run unitmem_one_batch(const oracle::activations& values, act_layout layout, const std::vector<std::int64_t>& ids,
                           index_t id_space, const memloc::unitmem_options& options, oracle::activations* logical = nullptr) {
  typename B::arena mem;
  auto stored = store_activations<T>(values, layout);
  if (logical) *logical = stored.logical;
  std::vector<std::int64_t> id_storage = ids;
  auto acts = mem.place(stored.storage, stored.view);
  auto id_view = mem.place(id_storage, memloc::make_vector_view(id_storage.data(), static_cast<index_t>(ids.size())));
  memloc::unitmem_accumulator acc(B::exec(), memloc::unitmem_shape{id_space, values.units, values.views, values.positions},
                                  options);
  acc.update(B::exec(), acts, id_view);
  return finalize_units<B>(mem, acc, values.units);
}

inline std::vector<std::int64_t> iota_ids(index_t n) {
  std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
  std::iota(ids.begin(), ids.end(), std::int64_t{0});
  return ids;
}

// μ is an fp32 mean of fp32 partial sums: relative error ~1e-6 of the mean |activation|
// (~1 here); UnitMem inherits it through a ratio whose denominator is ~1.
constexpr double mu_tolerance = 1e-5;
constexpr double unitmem_tolerance = 2e-5;

inline void check_units_against(const unit_run& run, const oracle::unit_result& expected,
                                const std::vector<std::int64_t>& ids, const std::string& what) {
  check_close(run.unitmem, expected.value, unitmem_tolerance, unitmem_tolerance, what + " unitmem");
  check_close(run.mu_max, expected.top, mu_tolerance, mu_tolerance, what + " mu_max");
  check_close(run.mu_rest, expected.rest, mu_tolerance, mu_tolerance, what + " mu_rest");
  REQUIRE(run.argmax.size() == expected.top_index.size());
  for (std::size_t u = 0; u < run.argmax.size(); ++u) {
    INFO(what, " argmax[", u, "]");
    CHECK(run.argmax[u] == ids[static_cast<std::size_t>(expected.top_index[u])]);
  }
  CHECK(run.report.nan_units == expected.nan_units);
  CHECK(run.report.negative_denominator_units == expected.negative_denominator_units);
}

template <class B, class T>
void unitmem_matches_oracle_for_type() {
  using memloc::activation_transform;
  using memloc::rest_reduction;
  using memloc::unitmem_storage;
  const index_t N = 23, V = 3, U = 7, S = 5;
  std::uint64_t seed = 100;
  for (const act_layout layout : all_act_layouts()) {
    for (const auto transform : {activation_transform::none, activation_transform::relu, activation_transform::abs}) {
      for (const auto rest : {rest_reduction::mean, rest_reduction::median}) {
        for (const auto storage : {unitmem_storage::automatic, unitmem_storage::per_sample}) {
          // Shift the data so that μ_max + μ_rest stays well away from 0 without a transform.
          const auto values = random_activations(N, V, U, S, ++seed, -0.5, 2.0);
          const auto ids = iota_ids(N);
          oracle::activations logical;
          const auto run = unitmem_one_batch<B, T>(values, layout, ids, N, {rest, transform, storage}, &logical);
          const auto expected = oracle::unitmem(oracle::mu(logical, to_oracle(transform)), rest == rest_reduction::median);
          const std::string what = std::string(type_name<T>()) + " " + layout_name(layout) + " transform " +
                                   std::to_string(static_cast<int>(transform)) + " rest " +
                                   std::to_string(static_cast<int>(rest)) + " storage " +
                                   std::to_string(static_cast<int>(storage));
          CHECK(run.report.samples == N);
          CHECK(run.report.units == U);
          check_units_against(run, expected, ids, what);
        }
      }
    }
  }
  // A fully connected layer: one position.
  const auto values = random_activations(17, 4, 9, 1, 7, 0.0, 1.0);
  oracle::activations logical;
  const auto ids = iota_ids(17);
  const auto run = unitmem_one_batch<B, T>(values, act_layout::dense, ids, 17, {}, &logical);
  check_units_against(run, oracle::unitmem(oracle::mu(logical, oracle::transform::none), false), ids,
                      std::string(type_name<T>()) + " dense");
}

TEST_CASE_TEMPLATE_DEFINE("unitmem: every dtype, layout, transform and variant matches the oracle", B, unitmem_oracle) {
  unitmem_matches_oracle_for_type<B, float>();
  unitmem_matches_oracle_for_type<B, double>();
  unitmem_matches_oracle_for_type<B, memloc::half>();
  unitmem_matches_oracle_for_type<B, memloc::bfloat16>();
}

TEST_CASE_TEMPLATE_DEFINE("unitmem: the spec's hand-computed vectors (spec 12)", B, unitmem_spec_vectors) {
  // One unit per table row; μ_u(x_i) given directly (one view, one position).
  const std::vector<std::vector<double>> rows{{1, 0, 0, 0}, {2, 2, 2, 2}, {4, 1, 2, 3}, {5, 1, 1, 4}, {3, 3, 1, 1}, {0, 0, 0, 0}};
  const std::vector<double> mean_expected{1, 0, 1.0 / 3, 3.0 / 7, 2.0 / 7, 0};
  const std::vector<double> median_expected{1, 0, 1.0 / 3, 2.0 / 3, 0.5, 0};
  const std::vector<double> rest_mean{0, 2, 2, 2, 5.0 / 3, 0};
  const std::vector<double> rest_median{0, 2, 2, 1, 1, 0};
  oracle::activations a{4, 1, 6, 1, std::vector<double>(24)};
  for (index_t n = 0; n < 4; ++n)
    for (index_t u = 0; u < 6; ++u) a.values[static_cast<std::size_t>(n * 6 + u)] = rows[static_cast<std::size_t>(u)][static_cast<std::size_t>(n)];
  for (const auto rest : {memloc::rest_reduction::mean, memloc::rest_reduction::median}) {
    const auto run = unitmem_one_batch<B, float>(a, act_layout::dense, iota_ids(4), 4, {rest});
    const bool median = rest == memloc::rest_reduction::median;
    check_close(run.unitmem, median ? median_expected : mean_expected, 1e-12, 1e-12, "unitmem");
    check_close(run.mu_rest, median ? rest_median : rest_mean, 1e-12, 1e-12, "mu_rest");
    CHECK(run.argmax[4] == 0);  // the tie [3, 3, 1, 1]: the first index wins
    CHECK(run.argmax[5] == 0);
    CHECK(run.report.nan_units == 0);
  }
}

TEST_CASE_TEMPLATE_DEFINE("unitmem: negative denominators and NaN inputs become counted NaNs", B, unitmem_policy) {
  // unit 0: μ = [1, -3, -3] -> rest -3, denominator -2; unit 1: [1, -1, -1] -> 2/0;
  // unit 2: a NaN activation; unit 3: an ordinary unit.
  oracle::activations a{3, 1, 4, 1, {1, 1, std::nan(""), 0.5, -3, -1, 1, 0.25, -3, -1, 1, 0.25}};
  const auto run = unitmem_one_batch<B, float>(a, act_layout::dense, iota_ids(3), 3, {});
  CHECK(std::isnan(run.unitmem[0]));
  CHECK(std::isnan(run.unitmem[1]));
  CHECK(std::isnan(run.unitmem[2]));
  CHECK(run.unitmem[3] == doctest::Approx(1.0 / 3).epsilon(1e-12));  // (0.5-0.25)/(0.5+0.25)
  CHECK(run.report.negative_denominator_units == 2);
  CHECK(run.report.nan_units == 3);
  const auto median = unitmem_one_batch<B, float>(a, act_layout::dense, iota_ids(3), 3, {memloc::rest_reduction::median});
  CHECK(median.report.negative_denominator_units == 2);
  CHECK(median.report.nan_units == 3);
  CHECK(std::isnan(median.mu_max[2]));
}

TEST_CASE_TEMPLATE_DEFINE("unitmem: signed zeros tie and NaNs win the same way in both storages", B, unitmem_ties) {
  // A dead unit whose first sample is -0 ties with +0: the first id wins. A NaN whose sign
  // bit is set (x86's default NaN) makes its unit NaN in both storages.
  const double negative_nan = -std::numeric_limits<double>::quiet_NaN();
  oracle::activations a{4, 1, 2, 1, {-0.0, 1, 0.0, negative_nan, 0.0, 2, 0.0, 3}};
  for (const auto storage : {memloc::unitmem_storage::per_unit, memloc::unitmem_storage::per_sample}) {
    const auto run = unitmem_one_batch<B, float>(a, act_layout::dense, iota_ids(4), 4,
                                                 {memloc::rest_reduction::mean, memloc::activation_transform::none, storage});
    CHECK(run.argmax[0] == 0);
    CHECK(run.unitmem[0] == 0.0);
    CHECK(std::isnan(run.unitmem[1]));
    CHECK(std::isnan(run.mu_max[1]));
    CHECK(std::isnan(run.mu_rest[1]));
  }
}

TEST_CASE_TEMPLATE_DEFINE("unitmem: NaN survives the relu transform; per_sample argmax names sample ids", B, unitmem_edges) {
  // relu must keep a NaN activation NaN (a select written the other way round zeroes it).
  oracle::activations a{3, 1, 1, 1, {1, std::nan(""), 0.5}};
  const auto relu = unitmem_one_batch<B, float>(a, act_layout::dense, iota_ids(3), 3,
                                                {memloc::rest_reduction::mean, memloc::activation_transform::relu});
  CHECK(std::isnan(relu.unitmem[0]));
  CHECK(relu.report.nan_units == 1);
  // A NaN past the first row makes a per_sample unit NaN too (the maximum starts at row 0).
  oracle::activations b{4, 1, 1, 1, {2, std::nan(""), 1, 0.5}};
  for (const auto rest : {memloc::rest_reduction::mean, memloc::rest_reduction::median}) {
    const auto run = unitmem_one_batch<B, float>(
        b, act_layout::dense, iota_ids(4), 4, {rest, memloc::activation_transform::none, memloc::unitmem_storage::per_sample});
    CHECK(std::isnan(run.unitmem[0]));
    CHECK(std::isnan(run.mu_max[0]));
    CHECK(std::isnan(run.mu_rest[0]));
    CHECK(run.report.nan_units == 1);
    CHECK(run.argmax[0] == 1);  // the NaN sample, as per_unit storage reports it
  }
  const auto per_unit = unitmem_one_batch<B, float>(b, act_layout::dense, iota_ids(4), 4, {});
  CHECK(per_unit.argmax[0] == 1);
  // A second NaN in a row where another unit takes a new maximum: the first NaN stays the
  // argmax (the host's median sweeps eight units at a time and revisits all eight then).
  oracle::activations d{4, 1, 9, 1, std::vector<double>(36, 0.0)};
  for (index_t n = 0; n < 4; ++n) {
    d.values[static_cast<std::size_t>(n * 9)] = n == 1 || n == 2 ? std::nan("") : 2.0 - 0.5 * static_cast<double>(n);
    d.values[static_cast<std::size_t>(n * 9 + 1)] = static_cast<double>(n);
  }
  for (const auto rest : {memloc::rest_reduction::mean, memloc::rest_reduction::median}) {
    const auto run = unitmem_one_batch<B, float>(
        d, act_layout::dense, iota_ids(4), 4, {rest, memloc::activation_transform::none, memloc::unitmem_storage::per_sample});
    CHECK(std::isnan(run.mu_max[0]));
    CHECK(run.argmax[0] == 1);
    CHECK(run.argmax[1] == 3);
  }
  // Sparse ids: the argmax is the sample id, not the row of the batch.
  oracle::activations c{2, 1, 1, 1, {1, 5}};
  for (const auto rest : {memloc::rest_reduction::mean, memloc::rest_reduction::median}) {
    const auto run = unitmem_one_batch<B, float>(
        c, act_layout::dense, {7, 3}, 10, {rest, memloc::activation_transform::none, memloc::unitmem_storage::per_sample});
    CHECK(run.argmax[0] == 3);
    CHECK(run.unitmem[0] == doctest::Approx(4.0 / 6.0));
  }
}

// Splits samples into random batches (random order and sizes), folds them into a few
// accumulators, merges those in a random tree, and returns the result.
template <class B, class T>
unit_run unitmem_streamed(const oracle::activations& values, const std::vector<std::int64_t>& ids, index_t id_space,
                          const memloc::unitmem_options& options, std::uint64_t seed, bool split_views) {
  std::mt19937_64 gen(seed);
  // One layout per run: the fold's fp32 summation order depends on the layout, not on the
  // batch, so within one layout a sample's μ is the same in any batch.
  const act_layout layout = all_act_layouts()[gen() % all_act_layouts().size()];
  typename B::arena mem;
  const memloc::unitmem_shape shape{id_space, values.units, values.views, values.positions};
  std::vector<memloc::unitmem_accumulator<typename B::space>> accs;
  const int parts = 1 + static_cast<int>(gen() % 4);
  for (int i = 0; i < parts; ++i) accs.emplace_back(B::exec(), shape, options);
  // Work items: (sample, first view, view count).
  struct item { index_t sample, v0, nv; };
  std::vector<item> items;
  for (index_t n = 0; n < values.samples; ++n) {
    if (!split_views) {
      items.push_back({n, 0, values.views});
      continue;
    }
    index_t v = 0;
    while (v < values.views) {
      const index_t nv = 1 + static_cast<index_t>(gen() % static_cast<std::uint64_t>(values.views - v));
      items.push_back({n, v, nv});
      v += nv;
    }
  }
  std::shuffle(items.begin(), items.end(), gen);
  // Batches group items with the same view range length (a batch has one view count).
  std::stable_sort(items.begin(), items.end(), [](const item& a, const item& b) { return a.nv != b.nv ? a.nv < b.nv : a.v0 < b.v0; });
  std::vector<stored_activations<T>> keep;
  std::size_t i = 0;
  while (i < items.size()) {
    const std::size_t want = 1 + gen() % 6;
    std::size_t j = i;
    std::vector<index_t> samples;
    std::vector<std::int64_t> batch_ids;
    while (j < items.size() && j - i < want && items[j].nv == items[i].nv && items[j].v0 == items[i].v0) {
      samples.push_back(items[j].sample);
      batch_ids.push_back(ids[static_cast<std::size_t>(items[j].sample)]);
      ++j;
    }
    keep.push_back(store_activations<T>(slice(values, samples, items[i].v0, items[i].nv), layout));
    auto acts = mem.place(keep.back().storage, keep.back().view);
    auto id_view = mem.place(batch_ids, memloc::make_vector_view(batch_ids.data(), static_cast<index_t>(batch_ids.size())));
    accs[gen() % accs.size()].update(B::exec(), acts, id_view);
    i = j;
  }
  while (accs.size() > 1) {
    const std::size_t a = gen() % accs.size();
    std::size_t b = gen() % (accs.size() - 1);
    if (b >= a) ++b;
    accs[a].merge(B::exec(), accs[b]);
    accs.erase(accs.begin() + static_cast<std::ptrdiff_t>(b));
  }
  return finalize_units<B>(mem, accs[0], values.units);
}

TEST_CASE_TEMPLATE_DEFINE("unitmem: streaming in random batches, orders and merge trees equals one shot", B,
                          unitmem_streaming) {
  const index_t N = 41, V = 4, U = 6, S = 3, id_space = 1000;
  // Global ids scattered over a larger id space, as a candidate subset of a dataset is.
  std::vector<std::int64_t> ids(static_cast<std::size_t>(id_space));
  std::iota(ids.begin(), ids.end(), std::int64_t{0});
  std::shuffle(ids.begin(), ids.end(), std::mt19937_64(5));
  ids.resize(static_cast<std::size_t>(N));
  for (std::uint64_t trial = 0; trial < 6; ++trial) {
    const auto values = random_activations(N, V, U, S, 50 + trial, 0.0, 1.0);
    // per_unit storage: μ of a sample does not depend on its batch, so max, argmax and
    // counts are exact and the sums differ only by fp64 addition order.
    const auto streamed = unitmem_streamed<B, float>(values, ids, id_space, {}, trial, false);
    const act_layout layout = all_act_layouts()[std::mt19937_64(trial)() % all_act_layouts().size()];
    const auto whole = unitmem_one_batch<B, float>(values, layout, ids, id_space, {});
    CHECK(streamed.report.samples == whole.report.samples);
    CHECK(streamed.argmax == whole.argmax);
    CHECK(streamed.mu_max == whole.mu_max);
    check_close(streamed.unitmem, whole.unitmem, 1e-12, 1e-14, "per_unit streamed unitmem");
    check_close(streamed.mu_rest, whole.mu_rest, 1e-12, 1e-14, "per_unit streamed mu_rest");
    // per_sample storage with each sample's views spread over several batches: the view
    // sums are grouped differently, so values agree to fp32 rounding.
    for (const auto rest : {memloc::rest_reduction::mean, memloc::rest_reduction::median}) {
      const memloc::unitmem_options options{rest, memloc::activation_transform::none, memloc::unitmem_storage::per_sample};
      const auto one = unitmem_one_batch<B, float>(values, act_layout::nchw_sample_major, ids, id_space, options);
      const auto split = unitmem_streamed<B, float>(values, ids, id_space, options, 100 + trial, true);
      CHECK(split.report.samples == N);
      CHECK(split.argmax == one.argmax);
      check_close(split.unitmem, one.unitmem, 1e-5, 1e-6, "per_sample split unitmem");
      check_close(split.mu_max, one.mu_max, 1e-6, 1e-7, "per_sample split mu_max");
    }
  }
}

TEST_CASE_TEMPLATE_DEFINE("unitmem: invariant to sample order and to a positive scale", B, unitmem_properties) {
  const index_t N = 30, V = 3, U = 8, S = 4;
  const auto values = random_activations(N, V, U, S, 77, 0.0, 1.0);
  const auto ids = iota_ids(N);
  for (const auto rest : {memloc::rest_reduction::mean, memloc::rest_reduction::median}) {
    const auto base = unitmem_one_batch<B, float>(values, act_layout::nchw_sample_major, ids, N, {rest});
    // Permuting samples permutes nothing in the result once argmax is mapped back.
    std::vector<index_t> perm(static_cast<std::size_t>(N));
    std::iota(perm.begin(), perm.end(), index_t{0});
    std::shuffle(perm.begin(), perm.end(), std::mt19937_64(3));
    const auto permuted_values = slice(values, perm, 0, V);
    std::vector<std::int64_t> permuted_ids;
    for (const index_t p : perm) permuted_ids.push_back(ids[static_cast<std::size_t>(p)]);
    const auto permuted = unitmem_one_batch<B, float>(permuted_values, act_layout::nchw_sample_major, permuted_ids, N, {rest});
    CHECK(permuted.argmax == base.argmax);
    check_close(permuted.unitmem, base.unitmem, 1e-12, 1e-14, "permuted unitmem");
    // Scaling every activation by c > 0 scales μ_max and μ_rest by c and leaves UnitMem.
    for (const double c : {4.0, 3.7, 1e-3}) {
      oracle::activations scaled = values;
      for (double& x : scaled.values) x *= c;
      const auto s = unitmem_one_batch<B, float>(scaled, act_layout::nchw_sample_major, ids, N, {rest});
      CHECK(s.argmax == base.argmax);
      check_close(s.unitmem, base.unitmem, 1e-5, 1e-6, "scaled unitmem");
      std::vector<double> expected_max;
      for (const double m : base.mu_max) expected_max.push_back(m * c);
      check_close(s.mu_max, expected_max, 1e-5, 0.0, "scaled mu_max");
    }
  }
}

// Position counts and alignments that select every fold path of a backend: one position,
// short rows, rows of whole 16-byte packs (4 floats, 8 halves, 2 doubles) and of packs plus
// a remainder, and a buffer shifted by one element so packs are misaligned.
template <class B, class T>
void unitmem_fold_paths_for_type() {
  const index_t N = 9, V = 2, U = 5;
  std::uint64_t seed = 900;
  for (const index_t S : {index_t{1}, index_t{2}, index_t{3}, index_t{8}, index_t{16}, index_t{24}, index_t{64}, index_t{67},
                        index_t{128}}) {
    for (const bool shifted : {false, true}) {
      const auto values = random_activations(N, V, U, S, ++seed, -0.5, 2.0);
      std::vector<T> storage(static_cast<std::size_t>(N * V * U * S + 1), store_as<T>(0.0));
      T* first = storage.data() + (shifted ? 1 : 0);
      const auto view = memloc::nchw_sample_major(first, N, V, U, 1, S);
      oracle::activations logical = values;
      for (index_t i = 0; i < N * V * U * S; ++i) {
        first[i] = store_as<T>(values.values[static_cast<std::size_t>(i)]);
        logical.values[static_cast<std::size_t>(i)] = read_back(first[i]);
      }
      typename B::arena mem;
      auto ids = iota_ids(N);
      memloc::unitmem_accumulator acc(B::exec(), memloc::unitmem_shape{N, U, V, S});
      acc.update(B::exec(), mem.place(storage, view), mem.place(ids, memloc::make_vector_view(ids.data(), N)));
      const auto run = finalize_units<B>(mem, acc, U);
      check_units_against(run, oracle::unitmem(oracle::mu(logical, oracle::transform::none), false), ids,
                          std::string(type_name<T>()) + " positions " + std::to_string(S) + (shifted ? " shifted" : ""));
    }
  }
}

TEST_CASE_TEMPLATE_DEFINE("unitmem: every fold path (position counts, packs, misalignment, chunked batches)", B,
                          unitmem_fold_paths) {
  unitmem_fold_paths_for_type<B, float>();
  unitmem_fold_paths_for_type<B, double>();
  unitmem_fold_paths_for_type<B, memloc::half>();
  unitmem_fold_paths_for_type<B, memloc::bfloat16>();
  // Many units: a backend that folds a batch in chunks of rows must join them seamlessly,
  // in both storages and for units both contiguous (dense) and strided (NCHW, whose chunks
  // start at a row offset inside the buffer).
  const index_t N = 300, U = 4096;
  for (const auto& [layout, S] : {std::pair{act_layout::dense, index_t{1}}, std::pair{act_layout::nchw_sample_major, index_t{4}}})
  for (const auto rest : {memloc::rest_reduction::mean, memloc::rest_reduction::median}) {
    const auto values = random_activations(N, 1, U, S, 77, -0.5, 2.0);
    oracle::activations logical;
    const auto run = unitmem_one_batch<B, float>(values, layout, iota_ids(N), N, {rest}, &logical);
    check_units_against(run, oracle::unitmem(oracle::mu(logical, oracle::transform::none), rest == memloc::rest_reduction::median),
                        iota_ids(N), "many units");
  }
}

// μ handed over directly (one view and one position per row), which the device reads in its
// update kernel without folding it first: the rows are cut into segments by the batch's
// length and the state's slots, each block stages a few rows' ids at a time, and with units
// contiguous, a multiple of the group and at least 32 groups, aligned rows are read four
// units (two of fp64) to a load. In every dtype, layout and id width, with units not a
// multiple of the device's tiles (37, 132), a batch one element off its storage's alignment
// (`shifted`) or with rows one element longer than the units (`padded_rows`), ids scattered
// over a larger id space, batches of 1 to 150 rows into one accumulator (so a different slot
// count per update, each segment over several stages of ids in the emulated build) and a
// merge, against the oracle; then a bad id.
enum class direct_rows { as_laid_out, shifted, padded_rows };

template <class B, class T, class I>
void unitmem_direct_mu_for(index_t units, act_layout layout, direct_rows storage,
                           memloc::activation_transform transform, std::uint64_t seed) {
  const index_t N = 1400, U = units, id_space = 3000;
  const auto values = random_activations(N, 1, U, 1, seed, -0.5, 2.0);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(id_space));
  std::iota(ids.begin(), ids.end(), std::int64_t{0});
  std::shuffle(ids.begin(), ids.end(), std::mt19937_64(seed));
  ids.resize(static_cast<std::size_t>(N));
  // Increasing, so that the oracle's first row of a tie (bf16 holds many) is the smallest id.
  std::sort(ids.begin(), ids.end());
  std::vector<I> typed_ids(ids.begin(), ids.end());
  typename B::arena mem;
  auto stored = store_activations<T>(values, layout);
  if (storage != direct_rows::as_laid_out) {
    // The same values, one element further on, or in rows of U + 1 elements.
    const index_t shift = storage == direct_rows::shifted ? 1 : 0, row = storage == direct_rows::shifted ? U : U + 1;
    std::vector<T> moved(static_cast<std::size_t>(shift + N * row), store_as<T>(0.0));
    for (index_t n = 0; n < N; ++n)
      for (index_t u = 0; u < U; ++u) moved[static_cast<std::size_t>(shift + n * row + u)] = stored.view(n, 0, u, 0);
    stored.storage = std::move(moved);
    stored.view = memloc::activations_view<T>(stored.storage.data() + shift, {N, 1, U, 1}, {row, row, 1, 1});
  }
  const auto whole = mem.place(stored.storage, stored.view);
  const auto whole_ids = mem.place(typed_ids, memloc::make_vector_view(typed_ids.data(), N));
  auto rows = [&](index_t first, index_t count) {
    return memloc::activations_view<T, typename B::space>(whole.data_handle() + first * whole.stride(0), {count, 1, U, 1},
                                                          whole.strides());
  };
  auto row_ids = [&](index_t first, index_t count) {
    return memloc::make_vector_view<typename B::space>(whole_ids.data_handle() + first, count);
  };
  const memloc::unitmem_shape shape{id_space, U, 1, 1};
  const memloc::unitmem_options options{memloc::rest_reduction::mean, transform, memloc::unitmem_storage::per_unit};
  memloc::unitmem_accumulator acc(B::exec(), shape, options), other(B::exec(), shape, options);
  index_t first = 0;
  int turn = 0;
  // The host splits a batch of 1 100 into tasks of 35 rows, each read as 12 stretches of
  // three rows (the last of two), in tiles of 12, 12 and 11 rows; the shorter batches make
  // tasks of at most 16 rows, one tile of one-row stretches.
  for (const index_t count : {index_t{1}, index_t{7}, index_t{150}, index_t{142}, index_t{1100}}) {
    (turn++ % 2 == 0 ? acc : other).update(B::exec(), rows(first, count), row_ids(first, count));
    first += count;
  }
  acc.merge(B::exec(), other);
  const auto run = finalize_units<B>(mem, acc, U);
  CHECK(run.report.samples == N);
  check_units_against(run, oracle::unitmem(oracle::mu(stored.logical, to_oracle(transform)), false), ids,
                      std::string(type_name<T>()) + " " + std::to_string(U) + " units " + layout_name(layout) +
                          " storage " + std::to_string(static_cast<int>(storage)) + " ids of " +
                          std::to_string(sizeof(I)) + " bytes, transform " + std::to_string(static_cast<int>(transform)));
}

TEST_CASE_TEMPLATE_DEFINE("unitmem: μ handed over directly, in every dtype, layout and id width, streamed and merged", B,
                          unitmem_direct_mu) {
  using memloc::activation_transform;
  std::uint64_t seed = 4000;
  const auto laid_out = direct_rows::as_laid_out, shifted = direct_rows::shifted, padded_rows = direct_rows::padded_rows;
  for (const index_t units : {index_t{37}, index_t{132}}) {
    for (const act_layout layout : {act_layout::dense, act_layout::nchw_sample_major, act_layout::token_major,
                                    act_layout::padded}) {
      unitmem_direct_mu_for<B, float, std::int64_t>(units, layout, laid_out, activation_transform::none, ++seed);
    }
    for (const direct_rows storage : {shifted, padded_rows}) {
      unitmem_direct_mu_for<B, float, std::int64_t>(units, act_layout::dense, storage, activation_transform::none, ++seed);
      unitmem_direct_mu_for<B, double, std::int32_t>(units, act_layout::dense, storage, activation_transform::none, ++seed);
      unitmem_direct_mu_for<B, memloc::half, std::uint16_t>(units, act_layout::dense, storage,
                                                            activation_transform::none, ++seed);
    }
    unitmem_direct_mu_for<B, double, std::int32_t>(units, act_layout::dense, laid_out, activation_transform::relu, ++seed);
    unitmem_direct_mu_for<B, memloc::half, std::uint16_t>(units, act_layout::token_major, laid_out,
                                                          activation_transform::abs, ++seed);
    unitmem_direct_mu_for<B, memloc::half, std::uint16_t>(units, act_layout::padded, laid_out,
                                                          activation_transform::none, ++seed);
    unitmem_direct_mu_for<B, memloc::bfloat16, std::int16_t>(units, act_layout::nchw_sample_major, laid_out,
                                                             activation_transform::none, ++seed);
  }

  // A bad id among good ones, read as a narrow signed type, with one unit and with four to a
  // thread: the host rejects the update, the device raises it at finalize.
  for (const index_t U : {index_t{37}, index_t{132}}) {
    const index_t N = 40;
    const auto values = random_activations(N, 1, U, 1, 77, -0.5, 2.0);
    typename B::arena mem;
    auto stored = store_activations<float>(values, act_layout::dense);
    const auto batch = mem.place(stored.storage, stored.view);
    std::vector<std::int16_t> bad(static_cast<std::size_t>(N));
    std::iota(bad.begin(), bad.end(), std::int16_t{0});
    bad[33] = -2;
    memloc::unitmem_accumulator acc(B::exec(), memloc::unitmem_shape{N, U, 1, 1});
    auto out = mem.template output<double>(U);
    auto update = [&] { acc.update(B::exec(), batch, mem.place(bad, memloc::make_vector_view(bad.data(), N))); };
    if constexpr (B::checks_indices_on_device) {
      update();
      CHECK_THROWS_WITH_AS(acc.finalize(B::exec(), memloc::unitmem_outputs<typename B::space>{out.view()}),
                           doctest::Contains("sample_ids(33) must be in [0, 40), got -2"), memloc::logic_error);
    } else {
      CHECK_THROWS_WITH_AS(update(), doctest::Contains("sample_ids(33) must be in [0, 40), got -2"), memloc::logic_error);
    }
  }
}

// Equal values (-0 equal to +0) or both NaN, element by element: for results that every
// backend must compute exactly.
inline void check_equal_values(const std::vector<double>& actual, const std::vector<double>& expected,
                               const std::string& what) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    INFO(what, "[", i, "]: actual ", actual[i], ", expected ", expected[i]);
    CHECK((actual[i] == expected[i] || (std::isnan(actual[i]) && std::isnan(expected[i]))));
  }
}

// Bit for bit, with any NaN equal to any NaN (a NaN's payload is not part of the contract).
inline void check_same_bits(const std::vector<double>& actual, const std::vector<double>& expected,
                            const std::string& what) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    INFO(what, "[", i, "]: actual ", actual[i], ", expected ", expected[i]);
    if (std::isnan(expected[i])) {
      CHECK(std::isnan(actual[i]));
    } else {
      CHECK(std::memcmp(&actual[i], &expected[i], sizeof(double)) == 0);
    }
  }
}

// per_sample storage fed one view per row (every activation one position, so a row's μ
// total is its fp32 value exactly on every backend): row r holds a view of sample
// row_ids[r], and a sample's views may sit in several rows of the batch.
template <class B>
unit_run unitmem_view_rows(const oracle::activations& rows, const std::vector<std::int64_t>& row_ids, index_t id_space,
                           index_t views, memloc::rest_reduction rest) {
  typename B::arena mem;
  auto stored = store_activations<float>(rows, act_layout::dense);
  std::vector<std::int64_t> id_storage = row_ids;
  auto acts = mem.place(stored.storage, stored.view);
  auto id_view = mem.place(id_storage, memloc::make_vector_view(id_storage.data(), static_cast<index_t>(row_ids.size())));
  const memloc::unitmem_options options{rest, memloc::activation_transform::none, memloc::unitmem_storage::per_sample};
  memloc::unitmem_accumulator acc(B::exec(), memloc::unitmem_shape{id_space, rows.units, views, 1}, options);
  acc.update(B::exec(), acts, id_view);
  return finalize_units<B>(mem, acc, rows.units);
}

// The device's per_sample update groups a batch's rows by id and its median finalize counts
// over blocks of (512 ids, 16 units). Every backend must add a sample's views in row order
// (metrics.md), so with one position per view each sample's μ is known exactly here (the fp64
// sum of its rows' fp32 values in row order, kept in fp32), and the maximum, its id and the
// median of the others must equal the oracle's on those μ exactly (the mean of the others to
// fp64 addition order): the host and the device are held to the same values, and sums built
// to depend on their order of addition (±2^60 among a sample's views) catch any other order.
// Units not a multiple of the tile, odd and even counts of others, ties (values on a grid of
// quarters), signed zeros, a NaN in one unit, ids scattered over a larger id space, views of
// a sample spread over the batch, a batch longer than the device's chunk of rows (8195
// units: views of a sample on both sides of a cut), an id space of several of the
// median's id segments, one of them without a folded id, and one view per sample in a batch
// of distinct ids that the host splits into tasks of rows.
TEST_CASE_TEMPLATE_DEFINE("unitmem: per_sample updates with repeated ids and the median finalize are exact", B,
                          unitmem_per_sample_shapes) {
  struct shape { index_t samples, views, units, spare_ids; };
  for (const shape sh : {shape{50, 1, 37, 13}, shape{51, 3, 37, 13}, shape{40, 4, 16, 13}, shape{50, 3, 8195, 13},
                         shape{301, 2, 37, 1500}, shape{301, 1, 37, 1500}}) {
    const index_t rows = sh.samples * sh.views;
    auto values = random_activations(rows, 1, sh.units, 1, 900 + static_cast<std::uint64_t>(sh.units + rows), -1.0, 2.0);
    for (index_t r = 0; r < rows; ++r) {
      for (index_t u = 0; u < sh.units; ++u) {
        double& x = values.values[static_cast<std::size_t>(r * sh.units + u)];
        x = static_cast<double>(static_cast<float>(x));  // what the fp32 batch holds
        if (u % 3 == 1) x = std::round(x * 4.0) / 4.0;  // ties
        if (u % 3 == 1 && x == 0.0 && r % 2 == 0) x = -0.0;
      }
    }
    values.values[static_cast<std::size_t>(7 * sh.units + 5)] = std::nan("");
    const index_t id_space = sh.samples + sh.spare_ids;
    std::vector<std::int64_t> sample_ids(static_cast<std::size_t>(id_space));
    std::iota(sample_ids.begin(), sample_ids.end(), std::int64_t{0});
    std::shuffle(sample_ids.begin(), sample_ids.end(), std::mt19937_64(static_cast<std::uint64_t>(rows)));
    if (id_space > 1024) {  // ids 512-1023, a whole id segment of the device's median, never folded
      sample_ids.erase(std::remove_if(sample_ids.begin(), sample_ids.end(),
                                      [](std::int64_t id) { return id >= 512 && id < 1024; }),
                       sample_ids.end());
    }
    sample_ids.resize(static_cast<std::size_t>(sh.samples));
    std::sort(sample_ids.begin(), sample_ids.end());
    std::vector<std::int64_t> row_ids(static_cast<std::size_t>(rows));
    for (index_t r = 0; r < rows; ++r) row_ids[static_cast<std::size_t>(r)] = sample_ids[static_cast<std::size_t>(r % sh.samples)];
    std::shuffle(row_ids.begin(), row_ids.end(), std::mt19937_64(static_cast<std::uint64_t>(rows) + 1));
    // Sums whose value depends on the order of their rows, so that the exact comparisons see
    // it: in every third unit a sample's first three rows hold +2^60, -2^60 and its own value
    // (|value| <= 2, lost when added to 2^60) in an order chosen by the sample, so its sum is
    // the value or 0 depending on the order its rows are added in.
    if (sh.views >= 3) {
      const double big = std::ldexp(1.0, 60);
      for (index_t n = 0; n < sh.samples; ++n) {
        std::vector<index_t> own;
        for (index_t r = 0; r < rows; ++r) {
          if (row_ids[static_cast<std::size_t>(r)] == sample_ids[static_cast<std::size_t>(n)]) own.push_back(r);
        }
        for (index_t u = 2; u < sh.units; u += 3) {
          if (u == 5) continue;  // the NaN's unit
          int placed = 0;
          for (index_t j = 0; j < 3; ++j) {
            if (j == n % 3) continue;  // this row keeps the sample's value
            values.values[static_cast<std::size_t>(own[static_cast<std::size_t>(j)] * sh.units + u)] =
                placed++ == 0 ? big : -big;
          }
        }
      }
    }
    // μ per sample, samples in id order (so the oracle's first maximum is the smallest id).
    std::vector<std::vector<double>> mu(static_cast<std::size_t>(sh.samples), std::vector<double>(static_cast<std::size_t>(sh.units)));
    for (index_t n = 0; n < sh.samples; ++n) {
      for (index_t u = 0; u < sh.units; ++u) {
        double sum = 0.0;
        for (index_t r = 0; r < rows; ++r) {
          if (row_ids[static_cast<std::size_t>(r)] == sample_ids[static_cast<std::size_t>(n)]) {
            sum += values.values[static_cast<std::size_t>(r * sh.units + u)];
          }
        }
        mu[static_cast<std::size_t>(n)][static_cast<std::size_t>(u)] =
            static_cast<double>(memloc::detail::mu_from_total(sum, sh.views));
      }
    }
    for (const auto rest : {memloc::rest_reduction::median, memloc::rest_reduction::mean}) {
      const bool median = rest == memloc::rest_reduction::median;
      const std::string what = std::string(B::name) + " N " + std::to_string(sh.samples) + " V " +
                               std::to_string(sh.views) + " U " + std::to_string(sh.units) + (median ? " median" : " mean");
      const auto got = unitmem_view_rows<B>(values, row_ids, id_space, sh.views, rest);
      const auto expected = oracle::unitmem(mu, median);
      CHECK(got.report.samples == sh.samples);
      CHECK(got.report.nan_units == expected.nan_units);
      CHECK(got.report.nan_units >= 1);
      CHECK(got.report.negative_denominator_units == expected.negative_denominator_units);
      for (std::size_t u = 0; u < got.argmax.size(); ++u) {
        INFO(what, " argmax[", u, "]");
        // A NaN wins the maximum (the oracle only marks the unit NaN): row 7's sample.
        CHECK(got.argmax[u] == (u == 5 ? row_ids[7] : sample_ids[static_cast<std::size_t>(expected.top_index[u])]));
      }
      check_equal_values(got.mu_max, expected.top, what + " mu_max");
      if (median) {
        check_equal_values(got.mu_rest, expected.rest, what + " mu_rest");
        check_close(got.unitmem, expected.value, 1e-15, 1e-300, what + " unitmem");
      } else {
        check_close(got.mu_rest, expected.rest, 1e-12, 1e-14, what + " mu_rest");
        check_close(got.unitmem, expected.value, 1e-12, 1e-14, what + " unitmem");
      }
      // Run to run, bit for bit.
      const auto again = unitmem_view_rows<B>(values, row_ids, id_space, sh.views, rest);
      check_same_bits(again.mu_rest, got.mu_rest, what + " again mu_rest");
      check_same_bits(again.unitmem, got.unitmem, what + " again unitmem");
    }
  }
}

// Run to run, the same batches give the same bits.
TEST_CASE_TEMPLATE_DEFINE("unitmem: results are bit-identical run to run", B, unitmem_deterministic) {
  const auto values = random_activations(64, 3, 33, 20, 5, -0.5, 2.0);
  for (const auto rest : {memloc::rest_reduction::mean, memloc::rest_reduction::median}) {
    const auto first = unitmem_one_batch<B, memloc::bfloat16>(values, act_layout::nchw_view_major, iota_ids(64), 64, {rest});
    const auto second = unitmem_one_batch<B, memloc::bfloat16>(values, act_layout::nchw_view_major, iota_ids(64), 64, {rest});
    CHECK(std::memcmp(first.unitmem.data(), second.unitmem.data(), first.unitmem.size() * sizeof(double)) == 0);
    CHECK(std::memcmp(first.mu_rest.data(), second.mu_rest.data(), first.mu_rest.size() * sizeof(double)) == 0);
    CHECK(first.argmax == second.argmax);
  }
}

}  // namespace testing
