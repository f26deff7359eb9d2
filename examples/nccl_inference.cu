// UnitMem with an NCCL merge, as a data-parallel GPU job runs it: each rank folds its shard
// of the samples into a device accumulator, memloc::nccl::all_reduce merges the states, and
// every rank finalizes the whole data set. A job has one process (or thread) per GPU and a
// communicator from ncclCommInitRank, or from the framework that already holds one; the
// merge waits for its compatibility check, so ranks cannot be driven from one thread in an
// NCCL group. This example is the one-rank case on GPU 0: the merge must leave the lone
// rank's result bit for bit as it was. Without a GPU it says so and exits with 77.

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include <memloc/detail/cuda/launch.cuh>
#include <memloc/kernels/common.cuh>
#include <memloc/memloc.cuh>
#include <memloc/nccl.cuh>

namespace {

constexpr memloc::index_t samples = 2048, views = 2, units = 32, positions = 16;

__global__ void make_activations(float* acts) {
  const memloc::index_t n = samples * views * units * positions;
  for (const memloc::index_t i : memloc::kernels::grid_stride_range(n)) {
    const memloc::index_t sample = i / (views * units * positions), unit = (i / positions) % units;
    acts[i] = static_cast<float>((sample * 7 + unit * 13) % 101) / 100.0f + (sample == unit ? 3.0f : 0.0f);
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
    std::printf("memloc NCCL example: no usable CUDA device; skipped\n");
    return 77;
  }
  ncclComm_t comm{};
  int device = 0;
  if (ncclCommInitAll(&comm, 1, &device) != ncclSuccess) {
    std::fprintf(stderr, "ncclCommInitAll failed\n");
    return 1;
  }
  cudaStream_t stream{};
  float* acts = nullptr;
  std::int64_t* ids = nullptr;
  double* unitmem = nullptr;
  if (!ok(cudaStreamCreate(&stream), "cudaStreamCreate") ||
      !ok(cudaMalloc(&acts, static_cast<std::size_t>(samples * views * units * positions) * sizeof(float)), "cudaMalloc") ||
      !ok(cudaMalloc(&ids, samples * sizeof(std::int64_t)), "cudaMalloc") ||
      !ok(cudaMalloc(&unitmem, units * sizeof(double)), "cudaMalloc")) {
    return 1;
  }
  memloc::detail::cuda::launch("memloc NCCL inference", "make_activations", make_activations, 128, 256, 0, stream, acts);
  memloc::detail::cuda::launch("memloc NCCL inference", "make_ids", make_ids, 8, 256, 0, stream, ids);
  const memloc::cuda_exec exec{stream};
  std::vector<double> before(units), after(units);
  try {
    memloc::unitmem_accumulator acc(exec, memloc::unitmem_shape{samples, units, views, positions});
    acc.update(exec, memloc::nchw_sample_major<memloc::device_space>(acts, samples, views, units, 4, 4),
               memloc::make_vector_view<memloc::device_space>(ids, samples));
    const memloc::unitmem_outputs<memloc::device_space> out{memloc::make_vector_view<memloc::device_space>(unitmem, units)};
    acc.finalize(exec, out);
    if (!ok(cudaMemcpy(before.data(), unitmem, units * sizeof(double), cudaMemcpyDeviceToHost), "cudaMemcpy")) return 1;
    memloc::nccl::all_reduce(exec, acc, comm);
    acc.finalize(exec, out);
    if (!ok(cudaMemcpy(after.data(), unitmem, units * sizeof(double), cudaMemcpyDeviceToHost), "cudaMemcpy")) return 1;
  } catch (const memloc::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  std::printf("UnitMem over %lld samples, merged by NCCL on one rank: unit 0 %.4f, unit 1 %.4f\n",
              static_cast<long long>(samples), after[0], after[1]);
  const bool same = std::memcmp(before.data(), after.data(), units * sizeof(double)) == 0;
  ncclCommDestroy(comm);
  cudaFree(acts);
  cudaFree(ids);
  cudaFree(unitmem);
  cudaStreamDestroy(stream);
  return same ? 0 : 1;
}
