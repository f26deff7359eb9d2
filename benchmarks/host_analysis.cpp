// The analysis functions at the sizes of perf-goals case D: every statistic on n = 50 000
// scores (goal: each within 50 ms) and Kendall's τ-b on the ImageNet training set,
// n = 1 281 167 (goal: within 500 ms on one thread). Every analysis function runs on the
// calling thread; each call includes its own copies and sorts.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <memloc/analysis.hpp>

namespace {

constexpr memloc::index_t small_n = 50000;
constexpr memloc::index_t imagenet_n = 1281167;

// Scores y = x + noise (correlated, as the same samples at two layers are), continuous or
// rounded to `levels` distinct values (ties).
struct score_pair {
  std::vector<double> x, y;
};

score_pair make_scores(memloc::index_t n, int levels, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  score_pair p;
  for (memloc::index_t i = 0; i < n; ++i) {
    double x = u(gen), y = x + 0.5 * u(gen);
    if (levels > 0) {
      x = static_cast<double>(static_cast<int>(x * levels));
      y = static_cast<double>(static_cast<int>(y * levels));
    }
    p.x.push_back(x);
    p.y.push_back(y);
  }
  return p;
}

memloc::vector_view<const double> view(const std::vector<double>& v) {
  return memloc::vector_view<const double>(v.data(), {static_cast<memloc::index_t>(v.size())});
}

const memloc::host_exec exec{};

void kendall(benchmark::State& state, memloc::index_t n, int levels) {
  const auto p = make_scores(n, levels, 1);
  for (auto _ : state) benchmark::DoNotOptimize(memloc::kendall_tau_b(exec, view(p.x), view(p.y)));
}

void kendall_top_k_union(benchmark::State& state, double fraction) {
  const auto p = make_scores(small_n, 0, 2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(memloc::kendall_tau_b_top_k_union(exec, view(p.x), view(p.y), memloc::top_fraction(fraction)));
  }
}

void top_k(benchmark::State& state, double fraction) {
  const auto p = make_scores(small_n, 0, 3);
  for (auto _ : state) benchmark::DoNotOptimize(memloc::top_k_indices(exec, view(p.x), memloc::top_fraction(fraction)));
}

void rank(benchmark::State& state) {
  const auto p = make_scores(small_n, 0, 4);
  for (auto _ : state) benchmark::DoNotOptimize(memloc::rank_scores(exec, view(p.x)));
}

void overlap(benchmark::State& state, double fraction) {
  const auto p = make_scores(small_n, 0, 5);
  for (auto _ : state) {
    benchmark::DoNotOptimize(memloc::top_k_overlap(exec, view(p.x), view(p.y), memloc::top_fraction(fraction)));
  }
}

// LOC Table 3: 8 measurement points, the overlap of every pair.
void overlap_matrix(benchmark::State& state) {
  std::vector<std::vector<double>> scores;
  for (int l = 0; l < 8; ++l) scores.push_back(make_scores(small_n, 0, 10 + static_cast<std::uint64_t>(l)).y);
  std::vector<memloc::named_scores<>> points;
  for (int l = 0; l < 8; ++l) points.push_back({"conv" + std::to_string(l + 1), view(scores[static_cast<std::size_t>(l)])});
  for (auto _ : state) benchmark::DoNotOptimize(memloc::top_k_overlap_matrix(exec, points, memloc::top_fraction(0.01)));
}

void t_test_raw(benchmark::State& state, memloc::t_test_kind kind) {
  const auto p = make_scores(small_n, 0, 6);
  for (auto _ : state) benchmark::DoNotOptimize(memloc::t_test(exec, view(p.x), view(p.y), {kind}));
}

// The streaming path: summaries built value by value in 10 chunks, merged, then tested.
void t_test_summaries(benchmark::State& state) {
  const auto p = make_scores(small_n, 0, 7);
  for (auto _ : state) {
    memloc::sample_summary a, b;
    for (std::size_t chunk = 0; chunk < 10; ++chunk) {
      memloc::sample_summary ca, cb;
      for (std::size_t i = chunk * 5000; i < (chunk + 1) * 5000; ++i) {
        ca.add(p.x[i]);
        cb.add(p.y[i]);
      }
      a.merge(ca);
      b.merge(cb);
    }
    benchmark::DoNotOptimize(memloc::t_test(a, b));
  }
}

// 50 000 units: 8 layers of 6 250.
void pruning(benchmark::State& state, memloc::prune_selection selection, memloc::prune_scope scope) {
  std::vector<std::vector<double>> unitmem;
  for (int l = 0; l < 8; ++l) {
    const auto p = make_scores(small_n / 8, 0, 20 + static_cast<std::uint64_t>(l));
    unitmem.push_back(p.x);
  }
  std::vector<memloc::named_scores<>> layers;
  for (int l = 0; l < 8; ++l) layers.push_back({"conv" + std::to_string(l + 1), view(unitmem[static_cast<std::size_t>(l)])});
  for (auto _ : state) {
    benchmark::DoNotOptimize(memloc::pruning_masks(exec, layers, {selection, scope, memloc::top_fraction(0.1), 3}));
  }
}

// 50 000 units and 50 000 samples.
void units_to_samples(benchmark::State& state) {
  const auto p = make_scores(small_n, 0, 30);
  std::mt19937_64 gen(31);
  std::vector<std::int64_t> argmax(static_cast<std::size_t>(small_n));
  for (auto& id : argmax) id = static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(small_n));
  const memloc::vector_view<const std::int64_t> ids(argmax.data(), {small_n});
  for (auto _ : state) {
    benchmark::DoNotOptimize(memloc::units_to_samples(exec, view(p.x), ids, view(p.y), memloc::top_fraction(0.1)));
  }
}

#define MEMLOC_ANALYSIS_BENCH(...) BENCHMARK_CAPTURE(__VA_ARGS__)->Unit(benchmark::kMillisecond)

MEMLOC_ANALYSIS_BENCH(kendall, n1281167_no_ties, imagenet_n, 0);
MEMLOC_ANALYSIS_BENCH(kendall, n1281167_100_levels, imagenet_n, 100);
MEMLOC_ANALYSIS_BENCH(kendall, n50000_no_ties, small_n, 0);
MEMLOC_ANALYSIS_BENCH(kendall, n50000_100_levels, small_n, 100);
MEMLOC_ANALYSIS_BENCH(kendall_top_k_union, n50000_top10pct, 0.1);
MEMLOC_ANALYSIS_BENCH(top_k, n50000_1pct, 0.01);
MEMLOC_ANALYSIS_BENCH(top_k, n50000_10pct, 0.1);
BENCHMARK(rank)->Unit(benchmark::kMillisecond);
MEMLOC_ANALYSIS_BENCH(overlap, n50000_1pct, 0.01);
MEMLOC_ANALYSIS_BENCH(overlap, n50000_10pct, 0.1);
BENCHMARK(overlap_matrix)->Unit(benchmark::kMillisecond);
MEMLOC_ANALYSIS_BENCH(t_test_raw, student_n50000, memloc::t_test_kind::student);
MEMLOC_ANALYSIS_BENCH(t_test_raw, welch_n50000, memloc::t_test_kind::welch);
BENCHMARK(t_test_summaries)->Unit(benchmark::kMillisecond);
MEMLOC_ANALYSIS_BENCH(pruning, top_per_layer_10pct, memloc::prune_selection::top, memloc::prune_scope::per_layer);
MEMLOC_ANALYSIS_BENCH(pruning, top_total_10pct, memloc::prune_selection::top, memloc::prune_scope::total);
MEMLOC_ANALYSIS_BENCH(pruning, random_per_layer_10pct, memloc::prune_selection::random, memloc::prune_scope::per_layer);
BENCHMARK(units_to_samples)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
