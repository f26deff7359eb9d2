// The CUDA UnitMem/ClassMem update and finalize on the perf-goals shapes (A1-A9, B), next to
// what the card delivers in the same run: a read-only sum over the same bytes and a
// device-to-device copy. Timed with CUDA events on one stream (manual time); bytes are the
// activations read once. Inputs of the A cases are 256 MB or more, so L2 does not flatter
// them; A8 is a latency case.

#include <benchmark/benchmark.h>

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <memloc/memloc.cuh>

#include "cuda_bench_support.cuh"

namespace {

using namespace bench;

struct fold_case {
  index_t samples, views, units, positions;
  index_t elements() const { return samples * views * units * positions; }
};

constexpr fold_case a1{256, 10, 64, 1024}, a2{256, 10, 128, 256}, a3{512, 10, 256, 64}, a4{1024, 10, 512, 16},
    a5{8192, 10, 256, 4}, a6{64, 10, 3072, 197}, a8{32, 10, 128, 16};

// The in-run roofline: every byte read once with 16-byte loads, one partial per block.
__global__ void read_sum(const float4* data, index_t n4, float* partials) {
  float a = 0.f, b = 0.f, c = 0.f, d = 0.f;
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n4; i += step) {
    const float4 v = data[i];
    a += v.x;
    b += v.y;
    c += v.z;
    d += v.w;
  }
  const float total = (a + b) + (c + d);
  if (total == 12345.678f) partials[blockIdx.x] = total;  // keeps the loads alive
}

cudaStream_t bench_stream() {
  static cudaStream_t stream = [] {
    cudaStream_t s{};
    require(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
    return s;
  }();
  return stream;
}

template <class T>
void roofline(benchmark::State& state, fold_case c) {
  const index_t bytes = c.elements() * static_cast<index_t>(sizeof(T));
  device_memory<float> data(bytes / 4 + 4), partials(1 << 16);
  device_memory<float> copy(bytes / 4 + 4);
  const auto stream = bench_stream();
  fill_random<<<1024, 256, 0, stream>>>(data.data, bytes / 4);
  event_timer timer;
  const bool copying = state.range(0) == 1;
  for (auto _ : state) {
    state.SetIterationTime(timer.seconds(stream, [&] {
      if (copying) {
        require(cudaMemcpyAsync(copy.data, data.data, static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice, stream),
                "cudaMemcpyAsync");
      } else {
        read_sum<<<132 * 16, 256, 0, stream>>>(reinterpret_cast<const float4*>(data.data), bytes / 16, partials.data);
      }
    }));
  }
  set_throughput(state, copying ? 2 * bytes : bytes, c.elements());
}

// One UnitMem update (fold and state) per iteration, state reset between iterations.
template <class T>
void unitmem_update(benchmark::State& state, fold_case c, bool token_major) {
  device_memory<T> data(c.elements());
  device_memory<std::int64_t> ids(c.samples);
  const auto stream = bench_stream();
  fill_random<<<1024, 256, 0, stream>>>(data.data, c.elements());
  fill_ids<<<64, 256, 0, stream>>>(ids.data, c.samples, 0);
  const memloc::cuda_exec exec{stream};
  memloc::unitmem_accumulator acc(exec, memloc::unitmem_shape{c.samples, c.units, c.views, c.positions});
  const auto batch = token_major ? memloc::token_major<memloc::device_space>(data.data, c.samples, c.views, c.positions, c.units)
                                 : memloc::nchw_sample_major<memloc::device_space>(data.data, c.samples, c.views, c.units, 1,
                                                                                   c.positions);
  const auto id_view = memloc::make_vector_view<memloc::device_space>(ids.data, c.samples);
  event_timer timer;
  for (auto _ : state) {
    acc.reset(exec);
    state.SetIterationTime(timer.seconds(stream, [&] { acc.update(exec, batch, id_view); }));
  }
  set_throughput(state, c.elements() * static_cast<index_t>(sizeof(T)), c.elements());
}

void classmem_update(benchmark::State& state, fold_case c) {
  const index_t classes = state.range(0);
  device_memory<float> data(c.elements());
  device_memory<std::int64_t> ids(c.samples), labels(c.samples);
  const auto stream = bench_stream();
  fill_random<<<1024, 256, 0, stream>>>(data.data, c.elements());
  fill_ids<<<64, 256, 0, stream>>>(ids.data, c.samples, 0);
  fill_ids<<<64, 256, 0, stream>>>(labels.data, c.samples, classes);
  const memloc::cuda_exec exec{stream};
  memloc::classmem_accumulator acc(exec, memloc::classmem_shape{c.samples, c.units, c.views, c.positions, classes});
  const auto batch = memloc::nchw_sample_major<memloc::device_space>(data.data, c.samples, c.views, c.units, 1, c.positions);
  event_timer timer;
  for (auto _ : state) {
    acc.reset(exec);
    state.SetIterationTime(timer.seconds(stream, [&] {
      acc.update(exec, batch, memloc::make_vector_view<memloc::device_space>(ids.data, c.samples),
                 memloc::make_vector_view<memloc::device_space>(labels.data, c.samples));
    }));
  }
  set_throughput(state, c.elements() * 4, c.elements());
}

// B: finalize over μ[N, U] (per_unit state for the mean variant; per_sample sums for the
// median variant, whose finalize selects medians). Bytes: the state read once.
void unitmem_finalize(benchmark::State& state) {
  const index_t samples = state.range(0), units = state.range(1);
  const bool median = state.range(2) == 1;
  const fold_case c{samples, 1, units, 1};
  device_memory<float> data(c.elements());
  device_memory<std::int64_t> ids(samples);
  device_memory<double> out(units);
  const auto stream = bench_stream();
  fill_random<<<1024, 256, 0, stream>>>(data.data, c.elements());
  fill_ids<<<64, 256, 0, stream>>>(ids.data, samples, 0);
  const memloc::cuda_exec exec{stream};
  memloc::unitmem_accumulator acc(exec, memloc::unitmem_shape{samples, units, 1, 1},
                                  {median ? memloc::rest_reduction::median : memloc::rest_reduction::mean});
  acc.update(exec, memloc::dense_sample_major<memloc::device_space>(data.data, samples, 1, units),
             memloc::make_vector_view<memloc::device_space>(ids.data, samples));
  const memloc::unitmem_outputs<memloc::device_space> outputs{memloc::make_vector_view<memloc::device_space>(out.data, units)};
  event_timer timer;
  for (auto _ : state) {
    state.SetIterationTime(timer.seconds(stream, [&] { benchmark::DoNotOptimize(acc.finalize(exec, outputs)); }));
  }
  set_throughput(state, median ? samples * units * 8 : units * 16, samples * units);
}

void register_all() {
  struct named {
    const char* name;
    fold_case c;
  };
  const named cases[] = {{"A1_prep", a1}, {"A2_layer1", a2}, {"A3_layer2", a3}, {"A4_layer3", a4}, {"A5_last_conv", a5}};
  for (const auto& k : cases) {
    const std::string n = k.name;
    benchmark::RegisterBenchmark(("roofline_read/" + n + "_f32").c_str(), roofline<float>, k.c)->Arg(0)->UseManualTime();
    benchmark::RegisterBenchmark(("roofline_copy/" + n + "_f32").c_str(), roofline<float>, k.c)->Arg(1)->UseManualTime();
    benchmark::RegisterBenchmark(("unitmem_update/" + n + "_nchw_f32").c_str(), unitmem_update<float>, k.c, false)
        ->UseManualTime();
  }
  benchmark::RegisterBenchmark("unitmem_update/A1_prep_nchw_bf16", unitmem_update<memloc::bfloat16>, a1, false)->UseManualTime();
  benchmark::RegisterBenchmark("unitmem_update/A4_layer3_nchw_bf16", unitmem_update<memloc::bfloat16>, a4, false)->UseManualTime();
  benchmark::RegisterBenchmark("roofline_read/A6_vit_mlp_bf16", roofline<memloc::bfloat16>, a6)->Arg(0)->UseManualTime();
  benchmark::RegisterBenchmark("unitmem_update/A6_vit_mlp_nvus_bf16", unitmem_update<memloc::bfloat16>, a6, false)->UseManualTime();
  benchmark::RegisterBenchmark("unitmem_update/A7_vit_mlp_token_major_bf16", unitmem_update<memloc::bfloat16>, a6, true)
      ->UseManualTime();
  benchmark::RegisterBenchmark("unitmem_update/A8_latency_f32", unitmem_update<float>, a8, false)->UseManualTime();
  benchmark::RegisterBenchmark("classmem_update/A9_layer3_f32", classmem_update, a4)->Arg(10)->Arg(1000)->UseManualTime();
  benchmark::RegisterBenchmark("unitmem_finalize/B", unitmem_finalize)
      ->Args({50000, 64, 0})
      ->Args({50000, 512, 0})
      ->Args({50000, 3072, 0})
      ->Args({1281167, 512, 0})
      ->Args({50000, 512, 1})
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("memloc CUDA benchmarks: no usable CUDA device; nothing to measure\n");
    return std::getenv("MEMLOC_REQUIRE_GPU") ? 1 : 0;
  }
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
