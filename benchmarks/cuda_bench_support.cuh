#pragma once

// What the CUDA benchmarks share: fatal error checks, device buffers filled on the device
// with deterministic pseudo-random values, CUDA-event timing for manual time, and one
// helper that sets the bytes and items counters (shared with the host suites).

#include <benchmark/benchmark.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>

#include <memloc/detail/cuda/launch.cuh>
#include <memloc/kernels/common.cuh>
#include <memloc/memloc.cuh>

#include "bench_counters.hpp"

namespace bench {

using memloc::index_t;

inline void require(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(status));
    std::exit(1);
  }
}

// Owns device memory for one benchmark.
template <class T>
struct device_memory {
  T* data = nullptr;
  explicit device_memory(index_t n) { require(cudaMalloc(&data, static_cast<std::size_t>(n) * sizeof(T)), "cudaMalloc"); }
  ~device_memory() { cudaFree(data); }
  device_memory(const device_memory&) = delete;
  device_memory& operator=(const device_memory&) = delete;
};

// Deterministic pseudo-random values in [-1, 2), filled on the device.
template <class T>
__global__ void fill_random(T* data, index_t n) {
  for (const index_t i : memloc::kernels::grid_stride_range(n)) {
    std::uint32_t h = static_cast<std::uint32_t>(i) * 2654435761u ^ static_cast<std::uint32_t>(i >> 32);
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    const float x = -1.0f + 3.0f * static_cast<float>(h >> 8) * (1.0f / 16777216.0f);
    if constexpr (std::is_same_v<T, memloc::bfloat16>) {
      data[i] = memloc::to_bfloat16(x);
    } else {
      data[i] = static_cast<T>(x);
    }
  }
}

// Sample ids 0..n-1, or labels i % classes when classes > 0.
template <class I>
__global__ void fill_ids(I* ids, index_t n, index_t classes) {
  for (const index_t i : memloc::kernels::grid_stride_range(n)) {
    ids[i] = classes > 0 ? i % classes : i;
  }
}

// Every benchmark kernel goes through memloc's launch helper, as memloc's own kernels do.
template <class... Params, class... Args>
void launch_bench(const char* kernel, void (*function)(Params...), unsigned blocks, cudaStream_t stream, Args&&... args) {
  memloc::detail::cuda::launch("memloc benchmarks", kernel, function, blocks, 256, 0, stream, std::forward<Args>(args)...);
}

template <class T>
void fill_random_async(T* data, index_t n, cudaStream_t stream) {
  launch_bench("fill_random", fill_random<T>, 1024, stream, data, n);
}

template <class I>
void fill_ids_async(I* ids, index_t n, index_t classes, unsigned blocks, cudaStream_t stream) {
  launch_bench("fill_ids", fill_ids<I>, blocks, stream, ids, n, classes);
}

struct event_timer {
  cudaEvent_t start{}, stop{};
  event_timer() {
    require(cudaEventCreate(&start), "cudaEventCreate");
    require(cudaEventCreate(&stop), "cudaEventCreate");
  }
  ~event_timer() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  template <class F>
  double seconds(cudaStream_t stream, F&& work) {
    require(cudaEventRecord(start, stream), "cudaEventRecord");
    work();
    require(cudaEventRecord(stop, stream), "cudaEventRecord");
    require(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0.f;
    require(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    return static_cast<double>(ms) * 1e-3;
  }
};

using memloc_bench::set_throughput;

// One stream for every benchmark, so timings never wait on the legacy default stream.
inline cudaStream_t bench_stream() {
  static cudaStream_t stream = [] {
    cudaStream_t s{};
    require(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
    return s;
  }();
  return stream;
}

// The in-run roofline: every byte read once with 16-byte loads, one partial per block. A
// template so that the two translation units including this header share one kernel.
template <int = 0>
__global__ void read_sum(const float4* data, index_t n4, float* partials) {
  float a = 0.f, b = 0.f, c = 0.f, d = 0.f;
  for (const index_t i : memloc::kernels::grid_stride_range(n4)) {
    const float4 v = data[i];
    a += v.x;
    b += v.y;
    c += v.z;
    d += v.w;
  }
  const float total = (a + b) + (c + d);
  if (total == 12345.678f) partials[blockIdx.x] = total;  // keeps the loads alive
}

// What the card delivers for `bytes`: a read-only sum, or (copying) a device-to-device copy,
// whose bytes count twice (read and written). Like the cases it stands beside, it rotates
// among copies of at least 256 MB in all, so L2 never serves it.
inline void roofline_bytes(benchmark::State& state, index_t bytes, bool copying) {
  const index_t floats = bytes / 4 + 4;
  const index_t copies = std::max<index_t>(1, ((index_t{256} << 20) + bytes - 1) / std::max<index_t>(1, bytes));
  device_memory<float> data(floats * copies), partials(1 << 16);
  device_memory<float> copy(copying ? floats : 1);
  const auto stream = bench_stream();
  fill_random_async(data.data, floats * copies, stream);
  int sms = 132;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  event_timer timer;
  index_t turn = 0;
  for (auto _ : state) {
    const float* source = data.data + turn * floats;
    turn = (turn + 1) % copies;
    state.SetIterationTime(timer.seconds(stream, [&] {
      if (copying) {
        require(cudaMemcpyAsync(copy.data, source, static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice, stream),
                "cudaMemcpyAsync");
      } else {
        launch_bench("read_sum", read_sum<>, static_cast<unsigned>(sms * 16), stream,
                     reinterpret_cast<const float4*>(source), bytes / 16, partials.data);
      }
    }));
  }
  set_throughput(state, copying ? 2 * bytes : bytes, bytes / 4);
}

// Registered by cuda_alignment.cu, called from main once a device is known to exist.
void register_alignment_cases();

}  // namespace bench
