// The shared formulas compile for and run on the device, and give the host's answers there.

#include <doctest/doctest.h>

#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include <memloc/core.hpp>
#include <memloc/detail/cuda/launch.cuh>
#include <memloc/detail/formulas.hpp>

namespace {

constexpr int cases = 6;

__global__ void evaluate_formulas(const float* values, const std::int64_t* ids, std::uint64_t* keys, double* indices,
                                  float* half_round_trip) {
  const int i = static_cast<int>(threadIdx.x);
  if (i >= cases) return;
  keys[i] = memloc::detail::pack_max_key(values[i], ids[i]);
  indices[i] = memloc::detail::selectivity_index(values[i], 0.25).value;
  half_round_trip[i] = memloc::to_float(memloc::to_half(values[i]));
}

void check(cudaError_t status) { REQUIRE_MESSAGE(status == cudaSuccess, cudaGetErrorString(status)); }

}  // namespace

TEST_CASE("cuda: shared formulas give the host's results on the device") {
  const std::vector<float> values{1.5f, -2.0f, 0.0f, 3.25f, 1e-3f, -0.0f};
  const std::vector<std::int64_t> ids{0, 7, 123456, 42, 9, 1};
  float* d_values = nullptr;
  std::int64_t* d_ids = nullptr;
  std::uint64_t* d_keys = nullptr;
  double* d_indices = nullptr;
  float* d_half = nullptr;
  check(cudaMalloc(&d_values, cases * sizeof(float)));
  check(cudaMalloc(&d_ids, cases * sizeof(std::int64_t)));
  check(cudaMalloc(&d_keys, cases * sizeof(std::uint64_t)));
  check(cudaMalloc(&d_indices, cases * sizeof(double)));
  check(cudaMalloc(&d_half, cases * sizeof(float)));
  check(cudaMemcpy(d_values, values.data(), cases * sizeof(float), cudaMemcpyHostToDevice));
  check(cudaMemcpy(d_ids, ids.data(), cases * sizeof(std::int64_t), cudaMemcpyHostToDevice));
  memloc::detail::cuda::launch("test_formulas", "evaluate_formulas", evaluate_formulas, 1, 32, 0, nullptr, d_values,
                               d_ids, d_keys, d_indices, d_half);
  std::vector<std::uint64_t> keys(cases);
  std::vector<double> indices(cases);
  std::vector<float> halves(cases);
  check(cudaMemcpy(keys.data(), d_keys, cases * sizeof(std::uint64_t), cudaMemcpyDeviceToHost));
  check(cudaMemcpy(indices.data(), d_indices, cases * sizeof(double), cudaMemcpyDeviceToHost));
  check(cudaMemcpy(halves.data(), d_half, cases * sizeof(float), cudaMemcpyDeviceToHost));
  for (int i = 0; i < cases; ++i) {
    CHECK(keys[static_cast<std::size_t>(i)] == memloc::detail::pack_max_key(values[static_cast<std::size_t>(i)], ids[static_cast<std::size_t>(i)]));
    CHECK(memloc::detail::key_id(keys[static_cast<std::size_t>(i)]) == ids[static_cast<std::size_t>(i)]);
    const double host_index = memloc::detail::selectivity_index(values[static_cast<std::size_t>(i)], 0.25).value;
    CHECK((indices[static_cast<std::size_t>(i)] == host_index || (host_index != host_index && indices[static_cast<std::size_t>(i)] != indices[static_cast<std::size_t>(i)])));
    CHECK(halves[static_cast<std::size_t>(i)] == memloc::to_float(memloc::to_half(values[static_cast<std::size_t>(i)])));
  }
  cudaFree(d_values);
  cudaFree(d_ids);
  cudaFree(d_keys);
  cudaFree(d_indices);
  cudaFree(d_half);
}

TEST_CASE("cuda: a launch past the device's limits is refused before it starts, naming the kernel and the limit") {
  std::string message;
  try {
    memloc::detail::cuda::launch("test_formulas", "evaluate_formulas", evaluate_formulas, 1, 1u << 16, 0, nullptr,
                                 nullptr, nullptr, nullptr, nullptr, nullptr);
  } catch (const memloc::cuda_error& e) {
    message = e.what();
  }
  CHECK(message.rfind("test_formulas: evaluate_formulas launch: block threads must be at most ", 0) == 0);
  CHECK(message.find("(cudaDevAttrMaxThreadsPerBlock), got 65536") != std::string::npos);
}
