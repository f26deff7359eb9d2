// perf-goals C and D on the device: SSL_f and SSL_g of a batch of 1024 samples (V = 10) in
// one alignment update, for feature counts from 128 to 49 344, fp32 and bf16, l2 and cosine;
// and top-k selections of device scores at N = 50 000 and 1 281 167. Timed with CUDA
// events (manual time); registered statically beside cuda_fold.cu's cases.

#include <benchmark/benchmark.h>

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include <memloc/memloc.cuh>

#include "cuda_bench_support.cuh"

namespace {

using namespace bench;

// C: one update of an alignment accumulator (f and g in one launch), reset between updates.
template <class T>
void alignment_update(benchmark::State& state, memloc::distance_kind distance) {
  const index_t samples = 1024, views = 10, features = state.range(0);
  const index_t n = samples * views * features;
  device_memory<T> f(n), g(n);
  device_memory<std::int64_t> ids(samples);
  fill_random<<<1024, 256>>>(f.data, n);
  fill_random<<<1024, 256>>>(g.data, n);  // the same values as f: the work does not depend on them
  fill_ids<<<16, 256>>>(ids.data, samples, 0);
  require(cudaDeviceSynchronize(), "fill");
  const memloc::cuda_exec exec{};
  memloc::alignment_accumulator acc(exec, memloc::alignment_shape{samples, views, features}, {distance});
  const auto fv = memloc::representations_sample_major<memloc::device_space>(f.data, samples, views, features);
  const auto gv = memloc::representations_sample_major<memloc::device_space>(g.data, samples, views, features);
  const auto id_view = memloc::make_vector_view<memloc::device_space>(ids.data, samples);
  event_timer timer;
  for (auto _ : state) {
    acc.reset(exec);
    state.SetIterationTime(timer.seconds(exec.stream, [&] { acc.update(exec, fv, gv, id_view); }));
  }
  set_throughput(state, 2 * n * static_cast<std::int64_t>(sizeof(T)), 2 * samples);
}

// D: the k best of N device scores, the k indices brought back to the host.
void top_k(benchmark::State& state) {
  const index_t n = state.range(0);
  const double fraction = static_cast<double>(state.range(1)) / 100.0;
  device_memory<double> scores(n);
  fill_random<<<1024, 256>>>(scores.data, n);
  require(cudaDeviceSynchronize(), "fill");
  const memloc::cuda_exec exec{};
  const auto view = memloc::make_vector_view<memloc::device_space>(static_cast<const double*>(scores.data), n);
  event_timer timer;
  for (auto _ : state) {
    state.SetIterationTime(
        timer.seconds(exec.stream, [&] { benchmark::DoNotOptimize(memloc::top_k_indices(exec, view, memloc::top_fraction(fraction))); }));
  }
  set_throughput(state, n * 8, n);
}

void alignment_f32(benchmark::State& state, memloc::distance_kind d) { alignment_update<float>(state, d); }
void alignment_bf16(benchmark::State& state, memloc::distance_kind d) { alignment_update<memloc::bfloat16>(state, d); }

constexpr auto l2 = memloc::distance_kind::l2;
constexpr auto cosine = memloc::distance_kind::cosine;

BENCHMARK_CAPTURE(alignment_f32, C_l2_f32, l2)->Arg(128)->Arg(512)->Arg(2048)->Arg(49344)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(alignment_f32, C_cosine_f32, cosine)->Arg(512)->Arg(2048)->Arg(49344)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(alignment_bf16, C_l2_bf16, l2)->Arg(512)->Arg(49344)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(top_k)->Args({50000, 1})->Args({50000, 10})->Args({1281167, 1})->Args({1281167, 10})->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
