// memloc on the GPU: the same UnitMem and SSLMem calls as quickstart.cpp, with a cuda_exec
// and views of device memory. Activations are made on the device here; in a training loop
// they are the tensors a forward hook sees (torch's data_ptr() is such a device pointer).
// Without a GPU it says so and exits with 77, which CTest reports as skipped.

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include <memloc/detail/cuda/launch.cuh>
#include <memloc/kernels/common.cuh>
#include <memloc/memloc.cuh>

namespace {

constexpr memloc::index_t samples = 1000, views = 4, units = 64, positions = 49;

// Unit u responds strongly to sample u only: a perfectly memorizing layer for the first 64
// samples, plus a small activation everywhere.
__global__ void make_activations(float* acts) {
  const memloc::index_t n = samples * views * units * positions;
  for (const memloc::index_t i : memloc::kernels::grid_stride_range(n)) {
    const memloc::index_t unit = (i / positions) % units, sample = i / (views * units * positions);
    acts[i] = sample == unit ? 5.0f : 0.1f;
  }
}

__global__ void make_ids(std::int64_t* ids) {
  for (const memloc::index_t i : memloc::kernels::grid_stride_range(samples)) {
    ids[i] = i;
  }
}

bool ok(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return true;
  std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(status));
  return false;
}

}  // namespace

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("memloc CUDA quickstart: no usable CUDA device; skipped\n");
    return 77;
  }
  float* acts = nullptr;
  std::int64_t* ids = nullptr;
  double* unitmem = nullptr;
  std::int64_t* argmax = nullptr;
  const auto elements = static_cast<std::size_t>(samples * views * units * positions);
  if (!ok(cudaMalloc(&acts, elements * sizeof(float)), "cudaMalloc") ||
      !ok(cudaMalloc(&ids, samples * sizeof(std::int64_t)), "cudaMalloc") ||
      !ok(cudaMalloc(&unitmem, units * sizeof(double)), "cudaMalloc") ||
      !ok(cudaMalloc(&argmax, units * sizeof(std::int64_t)), "cudaMalloc")) {
    return 1;
  }
  cudaStream_t stream{};
  if (!ok(cudaStreamCreate(&stream), "cudaStreamCreate")) return 1;
  memloc::detail::cuda::launch("memloc CUDA quickstart", "make_activations", make_activations, 256, 256, 0, stream, acts);
  memloc::detail::cuda::launch("memloc CUDA quickstart", "make_ids", make_ids, 4, 256, 0, stream, ids);

  const memloc::cuda_exec exec{stream};
  memloc::unitmem_accumulator acc(exec, memloc::unitmem_shape{samples, units, views, positions});
  // Batches of 250 samples, all views of a sample in its batch (NCHW, views adjacent).
  for (memloc::index_t first = 0; first < samples; first += 250) {
    acc.update(exec, memloc::nchw_sample_major<memloc::device_space>(acts + first * views * units * positions, 250, views,
                                                                     units, 7, 7),
               memloc::make_vector_view<memloc::device_space>(ids + first, 250));
  }
  const auto report = acc.finalize(exec, memloc::unitmem_outputs<memloc::device_space>{
                                             memloc::make_vector_view<memloc::device_space>(unitmem, units),
                                             {},
                                             memloc::make_vector_view<memloc::device_space>(argmax, units)});
  std::vector<double> host_unitmem(units);
  std::vector<std::int64_t> host_argmax(units);
  if (!ok(cudaMemcpy(host_unitmem.data(), unitmem, units * sizeof(double), cudaMemcpyDeviceToHost), "cudaMemcpy") ||
      !ok(cudaMemcpy(host_argmax.data(), argmax, units * sizeof(std::int64_t), cudaMemcpyDeviceToHost), "cudaMemcpy")) {
    return 1;
  }
  std::printf("UnitMem over %lld samples (first units):\n", static_cast<long long>(report.samples));
  for (memloc::index_t u = 0; u < 4; ++u) {
    std::printf("  unit %lld: UnitMem %.4f, argmax sample %lld\n", static_cast<long long>(u),
                host_unitmem[static_cast<std::size_t>(u)], static_cast<long long>(host_argmax[static_cast<std::size_t>(u)]));
  }
  // Unit u fires for sample u: μ_max = 5, μ_rest ≈ 0.1, UnitMem ≈ (5 - 0.1) / (5 + 0.1).
  const bool expected = host_argmax[3] == 3 && host_unitmem[3] > 0.95;
  cudaFree(acts);
  cudaFree(ids);
  cudaFree(unitmem);
  cudaFree(argmax);
  cudaStreamDestroy(stream);
  return expected ? 0 : 1;
}
