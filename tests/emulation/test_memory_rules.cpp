// Device memory as a GPU hands it out and as its atomics require it: fresh cudaMalloc memory is
// not zero (so a missing cudaMemset shows up), and a misaligned atomic or vector load stops
// the kernel.

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

// As memloc::kernels::load_vector reads a vector in the emulated build.
__global__ void copy_pack(const unsigned* from, unsigned* to) {
  memloc_emulation::detail::require_load_aligned(from, sizeof(uint4));
  const uint4 pack = *reinterpret_cast<const uint4*>(from);
  to[0] = pack.x;
  to[1] = pack.w;
}

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

TEST_CASE("emulation: a vector load from a misaligned address is reported") {
  unsigned* words = nullptr;
  REQUIRE(cudaMalloc(&words, 12 * sizeof(unsigned)) == cudaSuccess);
  std::vector<unsigned> host{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  REQUIRE(cudaMemcpy(words, host.data(), host.size() * sizeof(unsigned), cudaMemcpyHostToDevice) == cudaSuccess);
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(1);
  config.blockDim = dim3(1);
  const std::string report = memloc_emulation::testing::report_of([&] {
    CHECK(cudaLaunchKernelEx(&config, copy_pack, static_cast<const unsigned*>(words + 1), words + 8) == cudaSuccess);
    cudaDeviceSynchronize();
  });
  CHECK(memloc_emulation::testing::contains(report, "load from a misaligned address: 16-byte vector load"));
  // The aligned one reads the four words.
  REQUIRE(cudaLaunchKernelEx(&config, copy_pack, static_cast<const unsigned*>(words + 4), words + 8) == cudaSuccess);
  REQUIRE(cudaMemcpy(host.data(), words, host.size() * sizeof(unsigned), cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(host[8] == 4);
  CHECK(host[9] == 7);
  cudaFree(words);
}

}  // namespace emulation_memory_rules
