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

namespace {

using memloc::index_t;

void require(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(status));
    std::exit(1);
  }
}

template <class T>
__global__ void fill_values(T* data, index_t n, std::uint32_t salt) {
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    std::uint32_t h = (static_cast<std::uint32_t>(i) ^ salt) * 2654435761u;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    const float x = -1.0f + 2.0f * static_cast<float>(h >> 8) * (1.0f / 16777216.0f);
    if constexpr (std::is_same_v<T, memloc::bfloat16>) {
      data[i] = memloc::to_bfloat16(x);
    } else {
      data[i] = static_cast<T>(x);
    }
  }
}

__global__ void fill_ids(std::int64_t* ids, index_t n) {
  const index_t step = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) ids[i] = i;
}

template <class T>
struct device_memory {
  T* data = nullptr;
  explicit device_memory(index_t n) { require(cudaMalloc(&data, static_cast<std::size_t>(n) * sizeof(T)), "cudaMalloc"); }
  ~device_memory() { cudaFree(data); }
  device_memory(const device_memory&) = delete;
  device_memory& operator=(const device_memory&) = delete;
};

struct events {
  cudaEvent_t start{}, stop{};
  events() {
    require(cudaEventCreate(&start), "cudaEventCreate");
    require(cudaEventCreate(&stop), "cudaEventCreate");
  }
  ~events() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  double elapsed_seconds() {
    require(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0.f;
    require(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    return static_cast<double>(ms) * 1e-3;
  }
};

// C: one update of an alignment accumulator (f and g in one launch), reset between updates.
template <class T>
void alignment_update(benchmark::State& state, memloc::distance_kind distance) {
  const index_t samples = 1024, views = 10, features = state.range(0);
  const index_t n = samples * views * features;
  device_memory<T> f(n), g(n);
  device_memory<std::int64_t> ids(samples);
  fill_values<<<1024, 256>>>(f.data, n, 1u);
  fill_values<<<1024, 256>>>(g.data, n, 2u);
  fill_ids<<<16, 256>>>(ids.data, samples);
  require(cudaDeviceSynchronize(), "fill");
  const memloc::cuda_exec exec{};
  memloc::alignment_accumulator acc(exec, memloc::alignment_shape{samples, views, features}, {distance});
  const auto fv = memloc::representations_sample_major<memloc::device_space>(f.data, samples, views, features);
  const auto gv = memloc::representations_sample_major<memloc::device_space>(g.data, samples, views, features);
  const auto id_view = memloc::make_vector_view<memloc::device_space>(ids.data, samples);
  events timer;
  for (auto _ : state) {
    acc.reset(exec);
    require(cudaEventRecord(timer.start, exec.stream), "cudaEventRecord");
    acc.update(exec, fv, gv, id_view);
    require(cudaEventRecord(timer.stop, exec.stream), "cudaEventRecord");
    state.SetIterationTime(timer.elapsed_seconds());
  }
  state.SetBytesProcessed(state.iterations() * 2 * n * static_cast<std::int64_t>(sizeof(T)));
  state.SetItemsProcessed(state.iterations() * 2 * samples);
}

// D: the k best of N device scores, the k indices brought back to the host.
void top_k(benchmark::State& state) {
  const index_t n = state.range(0);
  const double fraction = static_cast<double>(state.range(1)) / 100.0;
  device_memory<double> scores(n);
  fill_values<<<1024, 256>>>(scores.data, n, 3u);
  require(cudaDeviceSynchronize(), "fill");
  const memloc::cuda_exec exec{};
  const auto view = memloc::make_vector_view<memloc::device_space>(static_cast<const double*>(scores.data), n);
  events timer;
  for (auto _ : state) {
    require(cudaEventRecord(timer.start, exec.stream), "cudaEventRecord");
    benchmark::DoNotOptimize(memloc::top_k_indices(exec, view, memloc::top_fraction(fraction)));
    require(cudaEventRecord(timer.stop, exec.stream), "cudaEventRecord");
    state.SetIterationTime(timer.elapsed_seconds());
  }
  state.SetItemsProcessed(state.iterations() * n);
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
