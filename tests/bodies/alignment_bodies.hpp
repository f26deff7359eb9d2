#pragma once

// Alignment, SSLMem and LayerMem test bodies, shared by every backend.

#include <algorithm>
#include <random>
#include <set>

#include "unitmem_bodies.hpp"

namespace testing {

inline oracle::distance to_oracle(memloc::distance_kind d) {
  switch (d) {
    case memloc::distance_kind::l2_normalized: return oracle::distance::l2_normalized;
    case memloc::distance_kind::l1: return oracle::distance::l1;
    case memloc::distance_kind::cosine: return oracle::distance::cosine;
    case memloc::distance_kind::angular: return oracle::distance::angular;
    case memloc::distance_kind::l2: break;
  }
  return oracle::distance::l2;
}

inline const std::vector<memloc::distance_kind>& all_distances() {
  static const std::vector<memloc::distance_kind> all{memloc::distance_kind::l2, memloc::distance_kind::l2_normalized,
                                                      memloc::distance_kind::l1, memloc::distance_kind::cosine,
                                                      memloc::distance_kind::angular};
  return all;
}

// SSL_f and SSL_g of one batch holding every sample.
template <class B, class T>
std::pair<std::vector<double>, std::vector<double>> alignment_one_shot(const oracle::representations& f,
                                                                       const oracle::representations& g, rep_layout layout,
                                                                       const memloc::alignment_options& options,
                                                                       oracle::representations* f_logical = nullptr,
                                                                       oracle::representations* g_logical = nullptr) {
  typename B::arena mem;
  auto fs = store_representations<T>(f, layout);
  auto gs = store_representations<T>(g, layout);
  if (f_logical) *f_logical = fs.logical;
  if (g_logical) *g_logical = gs.logical;
  auto out_f = mem.template output<double>(f.samples);
  auto out_g = mem.template output<double>(f.samples);
  memloc::alignment(B::exec(), mem.place(fs.storage, fs.view), mem.place(gs.storage, gs.view), out_f.view(), out_g.view(),
                    options);
  return {mem.fetch(out_f), mem.fetch(out_g)};
}

// fp32 terms summed in fp32 blocks of 1024 and fp64 across blocks; the finishing step of
// cosine and angular distances amplifies rounding near cos = +-1.
constexpr double distance_tolerance = 2e-5;

template <class B, class T>
void alignment_matches_oracle_for_type() {
  std::uint64_t seed = 500;
  for (const rep_layout layout : all_rep_layouts()) {
    for (const auto distance : all_distances()) {
      for (const auto pairs : {memloc::pair_mode::all_pairs, memloc::pair_mode::original_vs_views}) {
        for (const index_t D : {index_t{1}, index_t{37}, index_t{2500}}) {
          const auto f = random_representations(9, 4, D, ++seed);
          const auto g = random_representations(9, 4, D, ++seed);
          oracle::representations fl, gl;
          const auto got = alignment_one_shot<B, T>(f, g, layout, {distance, pairs}, &fl, &gl);
          const bool original = pairs == memloc::pair_mode::original_vs_views;
          const std::string what = std::string(type_name<T>()) + " " + layout_name(layout) + " distance " +
                                   std::to_string(static_cast<int>(distance)) + (original ? " original" : " all") +
                                   " D " + std::to_string(D);
          check_close(got.first, oracle::alignment(fl, to_oracle(distance), original), distance_tolerance,
                      distance_tolerance, what + " ssl_f");
          check_close(got.second, oracle::alignment(gl, to_oracle(distance), original), distance_tolerance,
                      distance_tolerance, what + " ssl_g");
        }
      }
    }
  }
}

TEST_CASE_TEMPLATE_DEFINE("alignment: every dtype, layout, distance and pair mode matches the oracle", B, alignment_oracle) {
  alignment_matches_oracle_for_type<B, float>();
  alignment_matches_oracle_for_type<B, double>();
  alignment_matches_oracle_for_type<B, memloc::half>();
  alignment_matches_oracle_for_type<B, memloc::bfloat16>();
}

TEST_CASE_TEMPLATE_DEFINE("alignment: hand-computed distances, zero vectors included", B, alignment_hand) {
  // One sample, three views in 2-D: (3, 4), (0, 0), (0, 4).
  const oracle::representations r{1, 3, 2, {3, 4, 0, 0, 0, 4}};
  auto run = [&](memloc::distance_kind d, memloc::pair_mode p) {
    return alignment_one_shot<B, double>(r, r, rep_layout::sample_major, {d, p}).first[0];
  };
  using memloc::distance_kind;
  using memloc::pair_mode;
  // l2: |(3,4)-(0,0)| = 5, |(3,4)-(0,4)| = 3, |(0,0)-(0,4)| = 4.
  CHECK(run(distance_kind::l2, pair_mode::all_pairs) == doctest::Approx(4.0));
  CHECK(run(distance_kind::l2, pair_mode::original_vs_views) == doctest::Approx(4.0));
  // l1: 7, 3, 4.
  CHECK(run(distance_kind::l1, pair_mode::all_pairs) == doctest::Approx(14.0 / 3));
  CHECK(run(distance_kind::l1, pair_mode::original_vs_views) == doctest::Approx(5.0));
  // A zero vector normalises to itself and has cosine 0 with anything: cosine distance 1,
  // angular 0.5. cos((3,4),(0,4)) = 0.8.
  CHECK(run(distance_kind::cosine, pair_mode::original_vs_views) == doctest::Approx((1.0 + 0.2) / 2));
  CHECK(run(distance_kind::angular, pair_mode::original_vs_views) ==
        doctest::Approx((0.5 + std::acos(0.8) / std::acos(-1.0)) / 2));
  // l2 of normalised vectors: |(0.6,0.8) - 0| = 1, |(0.6,0.8) - (0,1)| = sqrt(0.36+0.04).
  CHECK(run(distance_kind::l2_normalized, pair_mode::original_vs_views) == doctest::Approx((1.0 + std::sqrt(0.4)) / 2));
}

TEST_CASE_TEMPLATE_DEFINE("alignment: a NaN feature makes the sample's distance NaN for every kind", B, alignment_nan) {
  const oracle::representations r{2, 3, 2, {3, 4, 0, std::nan(""), 0, 4, 1, 1, 2, 2, 3, 1}};
  for (const auto distance : all_distances()) {
    for (const auto pairs : {memloc::pair_mode::all_pairs, memloc::pair_mode::original_vs_views}) {
      const auto got = alignment_one_shot<B, float>(r, r, rep_layout::sample_major, {distance, pairs}).first;
      INFO("distance ", static_cast<int>(distance));
      CHECK(std::isnan(got[0]));
      CHECK_FALSE(std::isnan(got[1]));
    }
  }
}

// More views than the device caches inverse norms for in shared memory (64): the device keeps
// them in a global scratch, computed once per view. Checked against the oracle (as the host
// is) for every distance, with a NaN in a view beyond the cache, and run to run bit for bit.
// all_pairs is run for one distance that normalises: the emulated device runs each of its
// 2415 pairs as a block of threads.
TEST_CASE_TEMPLATE_DEFINE("alignment: more than 64 views", B, alignment_many_views) {
  const index_t N = 3, V = 70, D = 9;
  auto f = random_representations(N, V, D, 700);
  auto g = random_representations(N, V, D, 701);
  f.values[static_cast<std::size_t>((1 * V + 66) * D + 4)] = std::nan("");
  for (const auto distance : all_distances()) {
    for (const auto pairs : {memloc::pair_mode::original_vs_views, memloc::pair_mode::all_pairs}) {
      if (pairs == memloc::pair_mode::all_pairs && distance != memloc::distance_kind::cosine) continue;
      const bool original = pairs == memloc::pair_mode::original_vs_views;
      const std::string what = std::string(B::name) + " distance " + std::to_string(static_cast<int>(distance)) +
                               (original ? " original" : " all");
      oracle::representations fl, gl;
      const auto got = alignment_one_shot<B, float>(f, g, rep_layout::sample_major, {distance, pairs}, &fl, &gl);
      // Sample 1 of f has the NaN (the distance is NaN, which the oracle does not model).
      CHECK(std::isnan(got.first[1]));
      const auto expected_f = oracle::alignment(fl, to_oracle(distance), original);
      check_close({got.first[0], got.first[2]}, {expected_f[0], expected_f[2]}, distance_tolerance, distance_tolerance,
                  what + " ssl_f");
      check_close(got.second, oracle::alignment(gl, to_oracle(distance), original), distance_tolerance,
                  distance_tolerance, what + " ssl_g");
      const auto again = alignment_one_shot<B, float>(f, g, rep_layout::sample_major, {distance, pairs});
      check_same_bits(again.first, got.first, what + " again ssl_f");
      check_same_bits(again.second, got.second, what + " again ssl_g");
    }
  }
}

TEST_CASE_TEMPLATE_DEFINE("alignment: double inputs are computed in double precision", B, alignment_double) {
  // Two views 1e-9 apart in every feature: fp32 arithmetic would see no difference at all.
  const index_t D = 100;
  oracle::representations r{1, 2, D, {}};
  for (index_t k = 0; k < 2 * D; ++k) r.values.push_back(1.0 + (k >= D ? 1e-9 : 0.0) + 1e-3 * static_cast<double>(k % D));
  for (const auto distance : all_distances()) {
    const double got = alignment_one_shot<B, double>(r, r, rep_layout::sample_major, {distance}).first[0];
    const double expected = oracle::alignment(r, to_oracle(distance), false)[0];
    INFO("distance ", static_cast<int>(distance), ": got ", got, ", expected ", expected);
    CHECK(close(got, expected, 1e-6, 1e-15));
  }
}

// Views that share a large offset and differ little, in the shapes where a sum of products
// (the host's Gram form for all pairs, |a|² + |b|² - 2 a.b) would lose every digit of the
// distance: near-identical views; views 1.. close together but far from view 0 (what is
// left after centring on view 0); V = 2 and V = 70; D = 49 344 (ViT-Tiny's 257 x 192).
// value(n, v, k) builds each case from a shared pattern, an offset and per-view noise.
template <class B, class T, class Value>
void alignment_matches_oracle_on(index_t N, index_t V, index_t D, Value value, const std::string& what) {
  oracle::representations r{N, V, D, {}};
  r.values.reserve(static_cast<std::size_t>(N * V * D));
  for (index_t n = 0; n < N; ++n)
    for (index_t v = 0; v < V; ++v)
      for (index_t k = 0; k < D; ++k) r.values.push_back(value(n, v, k));
  for (const auto distance : all_distances()) {
    for (const auto pairs : {memloc::pair_mode::all_pairs, memloc::pair_mode::original_vs_views}) {
      oracle::representations logical;
      const auto got = alignment_one_shot<B, T>(r, r, rep_layout::sample_major, {distance, pairs}, &logical).first;
      const bool original = pairs == memloc::pair_mode::original_vs_views;
      // l1 and l2 are differences of nearby values, exact in every type, so relative error
      // alone; normalised vectors are rounded to the working type before they are
      // subtracted, an error of about its epsilon in each, which no order of summation
      // removes: an absolute 1e-6 admits that and still catches a cancelled Gram product
      // (an error near sqrt(epsilon) = 3e-4 in a distance between unit vectors).
      const bool normalised = distance != memloc::distance_kind::l2 && distance != memloc::distance_kind::l1;
      check_close(got, oracle::alignment(logical, to_oracle(distance), original), distance_tolerance,
                  normalised ? 1e-6 : 0.0,
                  what + " " + type_name<T>() + " distance " + std::to_string(static_cast<int>(distance)) +
                      (original ? " original" : " all"));
    }
  }
}

template <class B, class T>
void alignment_where_products_cancel() {
  // A pattern in [-1, 1] and noise in [-1, 1], both pinned by (n, v, k).
  auto unit = [](std::uint64_t a, std::uint64_t b, std::uint64_t c) {
    std::uint64_t x = (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full) ^ (c * 0x165667B19E3779F9ull);
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    return static_cast<double>(x >> 11) * 0x1.0p-52 - 1.0;
  };
  const auto u = [](index_t i) { return static_cast<std::uint64_t>(i); };
  // Near-identical views on an offset of 1000: 0.05 apart per feature (bf16 keeps some of
  // them apart, fp32 all).
  alignment_matches_oracle_on<B, T>(
      5, 10, 515,
      [&](index_t n, index_t v, index_t k) { return 1000.0 + 10.0 * unit(u(n), 0, u(k)) + 0.05 * unit(u(n), u(v) + 1, u(k)); },
      "near-identical");
  // Views 1.. within 0.01 of each other and 40 from view 0.
  alignment_matches_oracle_on<B, T>(
      5, 10, 515,
      [&](index_t n, index_t v, index_t k) {
        return 3.0 * unit(u(n), 0, u(k)) + (v == 0 ? 0.0 : 40.0 + 0.01 * unit(u(n), u(v) + 1, u(k)));
      },
      "clustered");
  alignment_matches_oracle_on<B, T>(
      3, 2, 700, [&](index_t n, index_t v, index_t k) { return 50.0 + unit(u(n), u(v) + 1, u(k)); }, "V = 2");
  alignment_matches_oracle_on<B, T>(
      2, 70, 300,
      [&](index_t n, index_t v, index_t k) {
        return 20.0 * unit(u(n), 0, u(k)) + (v % 2 ? 0.01 : 1.0) * unit(u(n), u(v) + 1, u(k));
      },
      "V = 70");
  alignment_matches_oracle_on<B, T>(
      2, 4, 49344,
      [&](index_t n, index_t v, index_t k) {
        return 5.0 + unit(u(n), 0, u(k)) + (v == 3 ? 0.001 : 0.1) * unit(u(n), u(v) + 1, u(k));
      },
      "D = 49344");
}

TEST_CASE_TEMPLATE_DEFINE("alignment: accurate where sums of products would cancel", B, alignment_cancellation) {
  alignment_where_products_cancel<B, float>();
  alignment_where_products_cancel<B, memloc::bfloat16>();
  alignment_where_products_cancel<B, double>();
}

TEST_CASE_TEMPLATE_DEFINE("alignment: streaming in random batches and merges equals one shot exactly", B, alignment_streaming) {
  const index_t N = 29, V = 3, D = 19;
  const auto f = random_representations(N, V, D, 1);
  const auto g = random_representations(N, V, D, 2);
  const auto whole = alignment_one_shot<B, float>(f, g, rep_layout::sample_major, {});
  for (std::uint64_t trial = 0; trial < 5; ++trial) {
    std::mt19937_64 gen(trial);
    typename B::arena mem;
    std::vector<index_t> order(static_cast<std::size_t>(N));
    std::iota(order.begin(), order.end(), index_t{0});
    std::shuffle(order.begin(), order.end(), gen);
    const memloc::alignment_shape shape{N, V, D};
    std::vector<memloc::alignment_accumulator<typename B::space>> accs;
    for (int i = 0; i < 3; ++i) accs.emplace_back(B::exec(), shape);
    std::vector<stored_representations<float>> keep;
    std::vector<std::vector<std::int64_t>> keep_ids;
    keep.reserve(static_cast<std::size_t>(2 * N));
    keep_ids.reserve(static_cast<std::size_t>(N));
    for (std::size_t i = 0; i < order.size();) {
      const std::size_t j = std::min(order.size(), i + 1 + gen() % 6);
      oracle::representations fb{static_cast<index_t>(j - i), V, D, {}}, gb = fb;
      keep_ids.emplace_back();
      for (std::size_t k = i; k < j; ++k) {
        const index_t n = order[k];
        keep_ids.back().push_back(n);
        for (index_t v = 0; v < V; ++v)
          for (index_t d = 0; d < D; ++d) {
            fb.values.push_back(f.at(n, v, d));
            gb.values.push_back(g.at(n, v, d));
          }
      }
      const rep_layout layout = all_rep_layouts()[gen() % 3];
      keep.push_back(store_representations<float>(fb, layout));
      keep.push_back(store_representations<float>(gb, layout));
      auto& fs = keep[keep.size() - 2];
      auto& gs = keep[keep.size() - 1];
      accs[gen() % 3].update(B::exec(), mem.place(fs.storage, fs.view), mem.place(gs.storage, gs.view),
                             mem.place(keep_ids.back(), memloc::make_vector_view(keep_ids.back().data(),
                                                                                static_cast<index_t>(j - i))));
      i = j;
    }
    accs[2].merge(B::exec(), accs[0]);
    accs[2].merge(B::exec(), accs[1]);
    auto out_f = mem.template output<double>(N);
    auto out_g = mem.template output<double>(N);
    accs[2].finalize(B::exec(), out_f.view(), out_g.view());
    // A sample's alignment is computed from its own views only: identical in any batch.
    CHECK(mem.fetch(out_f) == whole.first);
    CHECK(mem.fetch(out_g) == whole.second);
  }
}

inline oracle::normalization to_oracle(memloc::sslmem_normalization n) {
  switch (n) {
    case memloc::sslmem_normalization::none: return oracle::normalization::none;
    case memloc::sslmem_normalization::range: return oracle::normalization::range;
    case memloc::sslmem_normalization::max: return oracle::normalization::max;
    case memloc::sslmem_normalization::ratio: break;
  }
  return oracle::normalization::ratio;
}

template <class B>
std::vector<double> sslmem_scores(const std::vector<double>& f, const std::vector<double>& g,
                                  const memloc::sslmem_options& options) {
  typename B::arena mem;
  std::vector<double> fc = f, gc = g;
  const auto n = static_cast<index_t>(f.size());
  auto out = mem.template output<double>(n);
  memloc::sslmem(B::exec(), mem.place(fc, memloc::make_vector_view(fc.data(), n)),
                 mem.place(gc, memloc::make_vector_view(gc.data(), n)), out.view(), options);
  return mem.fetch(out);
}

TEST_CASE_TEMPLATE_DEFINE("sslmem: every normalisation matches the oracle and the spec's vectors", B, sslmem_cases) {
  const auto f = random_values(50, 11, 0.0, 3.0);
  const auto g = random_values(50, 12, 0.0, 3.0);
  for (const auto n : {memloc::sslmem_normalization::none, memloc::sslmem_normalization::ratio,
                       memloc::sslmem_normalization::range, memloc::sslmem_normalization::max}) {
    check_close(sslmem_scores<B>(f, g, {n}), oracle::sslmem(f, g, to_oracle(n)), 1e-14, 1e-15,
                "normalization " + std::to_string(static_cast<int>(n)));
  }
  // Spec 12: SSL_f = 0.2, SSL_g = 0.6 -> 0.5; equal alignments -> 0; both zero -> 0 (0/0).
  check_close(sslmem_scores<B>({0.2, 0.4, 0.0}, {0.6, 0.4, 0.0}, {}), {0.5, 0.0, 0.0}, 1e-15, 0, "ratio vectors");
  // Spec 12, range: differences [0.1, 0.3, -0.1] -> [0.25, 0.75, -0.25].
  check_close(sslmem_scores<B>({0.5, 0.5, 0.5}, {0.6, 0.8, 0.4}, {memloc::sslmem_normalization::range}),
              {0.25, 0.75, -0.25}, 1e-12, 1e-15, "range vectors");
  // max: f/max f = [0.5, 1], g/max g = [1, 0.5] -> diff [0.5, -0.5] / 0.5.
  check_close(sslmem_scores<B>({1, 2}, {4, 2}, {memloc::sslmem_normalization::max}), {1.0, -1.0}, 1e-15, 0, "max vectors");
  // clamp01 clips the negative ratio of a sample g aligns better than f.
  check_close(sslmem_scores<B>({0.6, 0.2}, {0.2, 0.6}, {memloc::sslmem_normalization::ratio, true}), {0.0, 0.5}, 1e-15, 0,
              "clamped");
  // clamp01 also clips above 1 (possible for range and none, never for the ratio), and
  // leaves NaN alone.
  check_close(sslmem_scores<B>({0.5, 0.5}, {0.6, 0.8}, {memloc::sslmem_normalization::range, true}), {0.5, 1.0}, 1e-12, 0,
              "clamped range");
  const auto clamped_nan = sslmem_scores<B>({0.2, std::nan("")}, {0.6, 0.1}, {memloc::sslmem_normalization::ratio, true});
  CHECK(clamped_nan[0] == doctest::Approx(0.5));
  CHECK(std::isnan(clamped_nan[1]));
  // All differences zero: range normalisation gives zeros (0/0 -> 0), not an error.
  check_close(sslmem_scores<B>({0.2, 0.3}, {0.2, 0.3}, {memloc::sslmem_normalization::range}), {0.0, 0.0}, 0, 0, "zero range");
  // NaN propagates to its own ratio, and to every range-normalised score.
  const auto with_nan = sslmem_scores<B>({0.2, std::nan("")}, {0.6, 0.1}, {});
  CHECK(with_nan[0] == doctest::Approx(0.5));
  CHECK(std::isnan(with_nan[1]));
  const auto range_nan = sslmem_scores<B>({0.2, std::nan(""), 0.1}, {0.6, 0.1, 0.1}, {memloc::sslmem_normalization::range});
  CHECK(std::isnan(range_nan[0]));
}

// Each score is written once, after every check and statistic (docs/metrics.md).
TEST_CASE_TEMPLATE_DEFINE("sslmem: out may be ssl_g itself, and is unchanged when the call throws", B, sslmem_in_place) {
  const auto f = random_values(40, 31, 0.0, 3.0);
  const auto g = random_values(40, 32, 0.0, 3.0);
  const auto n = static_cast<index_t>(f.size());
  for (const auto how : {memloc::sslmem_normalization::none, memloc::sslmem_normalization::ratio,
                         memloc::sslmem_normalization::range, memloc::sslmem_normalization::max}) {
    typename B::arena mem;
    std::vector<double> fc = f;
    auto g_and_out = mem.template output<double>(n);
    mem.write_raw(g_and_out.view().data_handle(), g.data(), g.size() * sizeof(double));
    memloc::sslmem(B::exec(), mem.place(fc, memloc::make_vector_view(fc.data(), n)), g_and_out.view(), g_and_out.view(), {how});
    check_close(mem.fetch(g_and_out), oracle::sslmem(f, g, to_oracle(how)), 1e-14, 1e-15,
                "normalization " + std::to_string(static_cast<int>(how)));
  }
  // Equal differences: a range of 0, which cannot normalise, found before out is written.
  typename B::arena mem;
  std::vector<double> f2{0.5, 1.5}, g2{1.0, 2.0};
  auto out = mem.template output<double>(2, 5.0);
  CHECK_THROWS_WITH(memloc::sslmem(B::exec(), mem.place(f2, memloc::make_vector_view(f2.data(), 2)),
                                   mem.place(g2, memloc::make_vector_view(g2.data(), 2)), out.view(),
                                   {memloc::sslmem_normalization::range}),
                    doctest::Contains("the range of SSL_g - SSL_f (max - min) must be > 0"));
  CHECK(mem.fetch(out) == std::vector<double>{5.0, 5.0});
}

template <class B>
struct layermem_run {
  std::vector<double> layermem, delta;
  std::vector<std::int64_t> subset;
  std::vector<std::vector<double>> sslmem;  // each point's scores, as layermem gave them
};

template <class B>
layermem_run<B> run_layermem(std::vector<std::vector<double>>& f, std::vector<std::vector<double>>& g,
                             const memloc::layermem_options& options) {
  typename B::arena mem;
  std::vector<memloc::measurement_point<typename B::space>> points;
  const auto n = static_cast<index_t>(f[0].size());
  for (std::size_t p = 0; p < f.size(); ++p) {
    points.push_back({"point" + std::to_string(p),
                      mem.place(f[p], memloc::make_vector_view(static_cast<const double*>(f[p].data()), n)),
                      mem.place(g[p], memloc::make_vector_view(static_cast<const double*>(g[p].data()), n))});
  }
  const auto count = static_cast<index_t>(f.size());
  auto lm = mem.template output<double>(count);
  auto delta = mem.template output<double>(count);
  auto subset = mem.template output<std::int64_t>(memloc::layermem_subset_size(options.subset, n), -1);
  // Every second run also asks for the scores, so both forms of the call are exercised.
  static int calls = 0;
  const bool with_scores = calls++ % 2 == 0;
  std::vector<decltype(mem.template output<double>(n))> scores;
  std::vector<memloc::vector_view<double, typename B::space>> score_views;
  for (std::size_t p = 0; with_scores && p < f.size(); ++p) {
    scores.push_back(mem.template output<double>(n));
    score_views.push_back(scores.back().view());
  }
  memloc::layermem(B::exec(), points, lm.view(), delta.view(), subset.view(), options, score_views);
  layermem_run<B> run{mem.fetch(lm), mem.fetch(delta), mem.fetch(subset), {}};
  for (auto& s : scores) run.sslmem.push_back(mem.fetch(s));
  return run;
}

TEST_CASE_TEMPLATE_DEFINE("layermem: means over every subset kind and deltas to the previous point", B, layermem_cases) {
  const index_t N = 60, P = 4;
  std::vector<std::vector<double>> f, g;
  for (index_t p = 0; p < P; ++p) {
    f.push_back(random_values(N, 20 + static_cast<std::uint64_t>(p), 0.0, 2.0));
    g.push_back(random_values(N, 40 + static_cast<std::uint64_t>(p), 0.0, 2.0));
  }
  std::vector<std::vector<double>> scores;
  for (index_t p = 0; p < P; ++p) scores.push_back(oracle::sslmem(f[p], g[p], oracle::normalization::ratio));
  auto check_means = [&](const layermem_run<B>& run, const std::vector<std::int64_t>& subset, const std::string& what) {
    std::vector<double> expected_lm, expected_delta;
    for (index_t p = 0; p < P; ++p) {
      expected_lm.push_back(oracle::mean_over(scores[static_cast<std::size_t>(p)], subset));
      expected_delta.push_back(p == 0 ? oracle::nan : expected_lm.back() - expected_lm[expected_lm.size() - 2]);
    }
    check_close(run.layermem, expected_lm, 1e-12, 1e-14, what + " layermem");
    check_close(run.delta, expected_delta, 1e-12, 1e-14, what + " delta");
    for (std::size_t p = 0; p < run.sslmem.size(); ++p) check_close(run.sslmem[p], scores[p], 1e-12, 1e-14, what + " sslmem_out");
  };
  using memloc::subset_kind;
  {
    const auto run = run_layermem<B>(f, g, {});
    check_means(run, iota_ids(N), "all");
    CHECK(run.subset == iota_ids(N));
  }
  for (const index_t rank_point : {index_t{-1}, index_t{1}}) {
    for (const auto kind : {subset_kind::top, subset_kind::least}) {
      const auto run = run_layermem<B>(f, g, {{}, {kind, 10, 0, rank_point}});
      const auto& ranking = scores[static_cast<std::size_t>(rank_point < 0 ? P - 1 : rank_point)];
      const auto expected_subset = oracle::top_k(ranking, 10, kind == subset_kind::top);
      CHECK(run.subset == expected_subset);
      check_means(run, expected_subset, kind == subset_kind::top ? "top" : "least");
    }
  }
  {
    const auto a = run_layermem<B>(f, g, {{}, {subset_kind::random, 15, 1234}});
    const auto b = run_layermem<B>(f, g, {{}, {subset_kind::random, 15, 1234}});
    const auto c = run_layermem<B>(f, g, {{}, {subset_kind::random, 15, 999}});
    CHECK(a.subset == b.subset);
    CHECK(a.subset != c.subset);
    CHECK(std::is_sorted(a.subset.begin(), a.subset.end()));
    CHECK(std::set<std::int64_t>(a.subset.begin(), a.subset.end()).size() == 15);
    CHECK(a.subset.front() >= 0);
    CHECK(a.subset.back() < N);
    check_means(a, a.subset, "random");
    // A full-size random draw is the whole set.
    CHECK(run_layermem<B>(f, g, {{}, {subset_kind::random, N, 5}}).subset == iota_ids(N));
  }
  {
    // Other score normalisations feed LayerMem the same way.
    const auto run = run_layermem<B>(f, g, {{memloc::sslmem_normalization::range}, {}});
    std::vector<double> expected;
    for (index_t p = 0; p < P; ++p)
      expected.push_back(oracle::mean_over(oracle::sslmem(f[static_cast<std::size_t>(p)], g[static_cast<std::size_t>(p)],
                                                          oracle::normalization::range),
                                           iota_ids(N)));
    check_close(run.layermem, expected, 1e-12, 1e-14, "range layermem");
  }
}

TEST_CASE_TEMPLATE_DEFINE("layermem: ranking puts NaN last, breaks ties by index, draws a pinned random subset", B,
                          layermem_ranking) {
  using memloc::subset_kind;
  // Scores 0.5, NaN, 0: NaN ranks last for top and for least.
  std::vector<std::vector<double>> f{{0.2, std::nan(""), 0.4}}, g{{0.6, 0.5, 0.4}};
  const auto top = run_layermem<B>(f, g, {{}, {subset_kind::top, 2}});
  CHECK(top.subset == std::vector<std::int64_t>{0, 2});
  CHECK(top.layermem[0] == doctest::Approx(0.25));
  const auto least = run_layermem<B>(f, g, {{}, {subset_kind::least, 2}});
  CHECK(least.subset == std::vector<std::int64_t>{2, 0});
  CHECK(least.layermem[0] == doctest::Approx(0.25));
  // Equal scores: the lower index first.
  std::vector<std::vector<double>> tf{{0.5, 0.5, 0.5}}, tg{{0.6, 0.6, 0.6}};
  CHECK(run_layermem<B>(tf, tg, {{}, {subset_kind::top, 2}}).subset == std::vector<std::int64_t>{0, 1});
  CHECK(run_layermem<B>(tf, tg, {{}, {subset_kind::least, 2}}).subset == std::vector<std::int64_t>{0, 1});
  // The seeded draw is specified (mt19937_64, rejection-sampled bounded draws, partial
  // Fisher-Yates), so its output is pinned: any change to it changes users' subsets.
  std::vector<std::vector<double>> rf{std::vector<double>(10, 0.5)}, rg{std::vector<double>(10, 0.6)};
  CHECK(run_layermem<B>(rf, rg, {{}, {subset_kind::random, 3, 42}}).subset == std::vector<std::int64_t>{0, 4, 6});
  CHECK(run_layermem<B>(rf, rg, {{}, {subset_kind::random, 3, 0}}).subset == std::vector<std::int64_t>{3, 4, 6});
}

TEST_CASE_TEMPLATE_DEFINE("layermem: the spec's delta vector (Table 1 rows 1-4 and Res2)", B, layermem_spec) {
  // With SSL_f = 1 - L and SSL_g = 1 + L one sample's ratio score is exactly L.
  const std::vector<double> table{0.091, 0.123, 0.154, 0.183, 0.185};
  std::vector<std::vector<double>> f, g;
  for (const double l : table) {
    f.push_back({1 - l});
    g.push_back({1 + l});
  }
  const auto run = run_layermem<B>(f, g, {});
  check_close(run.layermem, table, 1e-12, 1e-15, "layermem");
  check_close(run.delta, {oracle::nan, 0.032, 0.031, 0.029, 0.002}, 0, 1e-12, "delta");
  // Spec 12 range vector through LayerMem: mean of [0.25, 0.75, -0.25] = 0.25.
  std::vector<std::vector<double>> rf{{0.5, 0.5, 0.5}}, rg{{0.6, 0.8, 0.4}};
  CHECK(run_layermem<B>(rf, rg, {{memloc::sslmem_normalization::range}, {}}).layermem[0] == doctest::Approx(0.25));
}

}  // namespace testing
