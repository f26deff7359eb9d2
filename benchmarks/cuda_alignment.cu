// perf-goals C and D on the device: SSL_f and SSL_g of a batch of 1024 samples (V = 10) in
// one alignment update, for feature counts from 128 to 49 344, fp32 and bf16, l2 and cosine;
// the same with V = 128 views (past the 64 whose inverse norms the kernel keeps in shared
// memory, so they sit in its global scratch); and top-k selections of device scores at N = 50 000 and 1 281 167. Timed with CUDA
// events (manual time); registered by cuda_fold.cu's main once a device is found.

#include <benchmark/benchmark.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>

#include <memloc/memloc.cuh>

#include "cuda_bench_support.cuh"

namespace {

using namespace bench;

// C: one update of an alignment accumulator (f and g in one launch), reset between
// updates. Small feature counts rotate among copies of the batch, so at least 256 MB pass
// through the card between two reads of one copy and L2 does not serve them.
template <class T>
void alignment_update(benchmark::State& state, index_t features, memloc::distance_kind distance, index_t views) {
  const index_t samples = 1024;
  const index_t n = samples * views * features;
  const index_t batch_bytes = 2 * n * static_cast<index_t>(sizeof(T));
  const index_t copies = std::max<index_t>(1, ((index_t{256} << 20) + batch_bytes - 1) / batch_bytes);
  device_memory<T> f(n * copies), g(n * copies);
  device_memory<std::int64_t> ids(samples);
  const auto stream = bench_stream();
  fill_random_async(f.data, n * copies, stream);
  fill_random_async(g.data, n * copies, stream);  // the same values as f: the work does not depend on them
  fill_ids_async(ids.data, samples, 0, 16, stream);
  const memloc::cuda_exec exec{stream};
  memloc::alignment_accumulator acc(exec, memloc::alignment_shape{samples, views, features}, {distance});
  const auto id_view = memloc::make_vector_view<memloc::device_space>(ids.data, samples);
  event_timer timer;
  index_t turn = 0;
  for (auto _ : state) {
    const auto fv = memloc::representations_sample_major<memloc::device_space>(f.data + turn * n, samples, views, features);
    const auto gv = memloc::representations_sample_major<memloc::device_space>(g.data + turn * n, samples, views, features);
    turn = (turn + 1) % copies;
    acc.reset(exec);
    state.SetIterationTime(timer.seconds(stream, [&] { acc.update(exec, fv, gv, id_view); }));
  }
  set_throughput(state, batch_bytes, 2 * samples);
}

// D: the k best of N device scores, the k indices brought back to the host.
void top_k(benchmark::State& state, index_t n, double fraction) {
  device_memory<double> scores(n);
  const auto stream = bench_stream();
  fill_random_async(scores.data, n, stream);
  const memloc::cuda_exec exec{stream};
  const auto view = memloc::make_vector_view<memloc::device_space>(static_cast<const double*>(scores.data), n);
  event_timer timer;
  for (auto _ : state) {
    state.SetIterationTime(
        timer.seconds(stream, [&] { benchmark::DoNotOptimize(memloc::top_k_indices(exec, view, memloc::top_fraction(fraction))); }));
  }
  set_throughput(state, n * 8, n);
}

template <class T>
void register_distance(index_t features, memloc::distance_kind distance, index_t views = 10) {
  const std::string name = "distances/C_" + (views != 10 ? "V" + std::to_string(views) + "_" : std::string()) + "D" +
                           std::to_string(features) + "_" + memloc::to_string(distance) + "_" +
                           (std::is_same_v<T, float> ? "fp32" : "bf16") + "/";
  const index_t bytes = 2 * 1024 * views * features * static_cast<index_t>(sizeof(T));
  benchmark::RegisterBenchmark((name + "roofline_read").c_str(), roofline_bytes, bytes, false)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark((name + "memloc").c_str(), alignment_update<T>, features, distance, views)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace

void bench::register_alignment_cases() {
  constexpr auto l2 = memloc::distance_kind::l2;
  constexpr auto cosine = memloc::distance_kind::cosine;
  for (const index_t features : {index_t{128}, index_t{512}, index_t{2048}, index_t{49344}}) {
    register_distance<float>(features, l2);
    register_distance<float>(features, cosine);
    register_distance<memloc::bfloat16>(features, l2);
  }
  // More than 64 views: every pair (8128 per sample) reads its views' inverse norms from the
  // kernel's global scratch, each computed once per view.
  register_distance<float>(512, cosine, 128);
  register_distance<float>(512, l2, 128);
  for (const index_t n : {index_t{50000}, index_t{1281167}}) {
    for (const int percent : {1, 10}) {
      const std::string name = "ranking/D_top" + std::to_string(percent) + "pct_N" + std::to_string(n) + "/memloc";
      benchmark::RegisterBenchmark(name.c_str(), top_k, n, percent / 100.0)->UseManualTime()->Unit(benchmark::kMicrosecond);
    }
  }
}
