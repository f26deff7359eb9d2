// Device memory as a GPU hands it out and as its atomics require it: fresh cudaMalloc memory is
// not zero (so a missing cudaMemset shows up), and a misaligned atomic stops the kernel.

#include <doctest/doctest.h>

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "report_capture.hpp"

namespace emulation_memory_rules {

__global__ void add_one_at(unsigned* address) { atomicAdd(address, 1u); }

TEST_CASE("emulation: fresh device memory is not zero, as no GPU promises it") {
  double* values = nullptr;
  REQUIRE(cudaMalloc(&values, 4 * sizeof(double)) == cudaSuccess);
  std::vector<double> host(4, 0.0);
  REQUIRE(cudaMemcpy(host.data(), values, 4 * sizeof(double), cudaMemcpyDeviceToHost) == cudaSuccess);
  for (double v : host) CHECK(std::isnan(v));
  std::vector<std::uint64_t> bits(4);
  std::memcpy(bits.data(), host.data(), sizeof(double) * 4);
  CHECK(bits[0] == ~std::uint64_t{0});
  cudaFree(values);
}

TEST_CASE("emulation: an atomic on a misaligned address is reported") {
  unsigned* words = nullptr;
  REQUIRE(cudaMalloc(&words, 4 * sizeof(unsigned)) == cudaSuccess);
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(1);
  config.blockDim = dim3(1);
  auto* misaligned = reinterpret_cast<unsigned*>(reinterpret_cast<char*>(words) + 2);
  const std::string report = memloc_emulation::testing::report_of([&] {
    CHECK(cudaLaunchKernelEx(&config, add_one_at, misaligned) == cudaSuccess);
    cudaDeviceSynchronize();
  });
  CHECK(memloc_emulation::testing::contains(report, "atomic on a misaligned address: 4-byte atomic"));
  // The aligned one runs.
  REQUIRE(cudaMemset(words, 0, 4 * sizeof(unsigned)) == cudaSuccess);
  REQUIRE(cudaLaunchKernelEx(&config, add_one_at, words + 1) == cudaSuccess);
  std::vector<unsigned> host(4);
  REQUIRE(cudaMemcpy(host.data(), words, 4 * sizeof(unsigned), cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(host == std::vector<unsigned>{0, 1, 0, 0});
  cudaFree(words);
}

}  // namespace emulation_memory_rules
