// The host μ fold against the two things it must beat: a naive per-(sample, unit) loop, the
// code a user would write first, and the machine itself, a multi-lane read-only sum over
// the same bytes on all threads (the in-run roofline). Bytes are the activations read once.

#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include <memloc/memloc.hpp>

namespace {

struct fold_case {
  memloc::index_t samples, views, units, positions;
};

// Inputs of 65 MB (fp32): beyond the caches of the CI machine, small enough for its 24 GB.
constexpr fold_case layer2{100, 10, 256, 64};  // perf-goals A3 with fewer samples
constexpr fold_case layer3{200, 10, 512, 16};  // A4
constexpr fold_case last_conv{1600, 10, 256, 4};  // A5

template <class T>
std::vector<T> random_buffer(std::size_t n) {
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> dist(-1.0f, 2.0f);
  std::vector<T> v(n);
  for (auto& x : v) {
    if constexpr (std::is_same_v<T, memloc::bfloat16>) {
      x = memloc::to_bfloat16(dist(gen));
    } else {
      x = static_cast<T>(dist(gen));
    }
  }
  return v;
}

std::size_t elements(const fold_case& c) {
  return static_cast<std::size_t>(c.samples * c.views * c.units * c.positions);
}

// memloc's UnitMem update (fold + per-unit state) on an NCHW sample-major batch, or on a
// token-major one when `token_major` is set.
template <class T>
void memloc_update(benchmark::State& state, fold_case c, bool token_major) {
  auto data = random_buffer<T>(elements(c));
  std::vector<std::int64_t> ids(static_cast<std::size_t>(c.samples));
  std::iota(ids.begin(), ids.end(), std::int64_t{0});
  const memloc::host_exec exec{};
  memloc::unitmem_accumulator acc(exec, memloc::unitmem_shape{c.samples, c.units, c.views, c.positions});
  const auto batch = token_major ? memloc::token_major(data.data(), c.samples, c.views, c.positions, c.units)
                                 : memloc::nchw_sample_major(data.data(), c.samples, c.views, c.units, 1, c.positions);
  for (auto _ : state) {
    acc.reset(exec);
    acc.update(exec, batch, memloc::make_vector_view(ids.data(), c.samples));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * elements(c) * sizeof(T)));
}

void memloc_update_f32(benchmark::State& state, fold_case c, bool token_major) { memloc_update<float>(state, c, token_major); }
void memloc_update_bf16(benchmark::State& state, fold_case c, bool token_major) {
  memloc_update<memloc::bfloat16>(state, c, token_major);
}

// The first loop a user writes: for each (sample, unit), sum its views and positions.
void naive_loop(benchmark::State& state, fold_case c) {
  auto data = random_buffer<float>(elements(c));
  std::vector<double> mu(static_cast<std::size_t>(c.samples * c.units));
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (memloc::index_t b = 0; b < c.samples; ++b) {
      for (memloc::index_t u = 0; u < c.units; ++u) {
        double sum = 0.0;
        for (memloc::index_t v = 0; v < c.views; ++v) {
          const float* p = data.data() + ((b * c.views + v) * c.units + u) * c.positions;
          for (memloc::index_t s = 0; s < c.positions; ++s) sum += static_cast<double>(p[s]);
        }
        mu[static_cast<std::size_t>(b * c.units + u)] = sum / static_cast<double>(c.views * c.positions);
      }
    }
    benchmark::DoNotOptimize(mu.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * elements(c) * sizeof(float)));
}

// What the machine delivers: every thread sums its share with 16 independent lanes.
void read_roofline(benchmark::State& state, fold_case c) {
  auto data = random_buffer<float>(elements(c));
  const auto n = static_cast<std::int64_t>(data.size());
  for (auto _ : state) {
    double total = 0.0;
#pragma omp parallel reduction(+ : total)
    {
      const std::int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
      const std::int64_t begin = n * t / threads, end = n * (t + 1) / threads;
      float lanes[16] = {};
      std::int64_t i = begin;
      for (; i + 16 <= end; i += 16)
        for (int l = 0; l < 16; ++l) lanes[l] += data[static_cast<std::size_t>(i + l)];
      for (; i < end; ++i) lanes[0] += data[static_cast<std::size_t>(i)];
      for (const float lane : lanes) total += lane;
    }
    benchmark::DoNotOptimize(total);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * elements(c) * sizeof(float)));
}

BENCHMARK_CAPTURE(read_roofline, A3_layer2, layer2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(memloc_update_f32, A3_layer2_nchw_f32, layer2, false)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(naive_loop, A3_layer2_nchw_f32, layer2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(memloc_update_f32, A4_layer3_nchw_f32, layer3, false)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(memloc_update_bf16, A4_layer3_nchw_bf16, layer3, false)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(naive_loop, A4_layer3_nchw_f32, layer3)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(memloc_update_f32, A5_last_conv_nchw_f32, last_conv, false)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(naive_loop, A5_last_conv_nchw_f32, last_conv)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(memloc_update_f32, A3_layer2_token_major_f32, layer2, true)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
