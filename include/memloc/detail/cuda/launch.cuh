#pragma once

// The one way memloc launches a kernel: the configuration is checked against the current
// device's limits first (so a bad shape names the memloc function, the kernel, the limit
// and the value instead of a bare cudaErrorInvalidConfiguration), the kernel is launched
// with cudaLaunchKernelEx, and the launch is checked.

#include <cuda_runtime.h>

#include <cstddef>
#include <map>
#include <mutex>
#include <utility>

#include "../launch_limits.hpp"
#include "runtime.cuh"

namespace memloc::detail::cuda {

// The current device's launch limits, queried once per device id.
inline const launch_limits& current_device_limits(const char* function) {
  int device = 0;
  check(cudaGetDevice(&device), function, "cudaGetDevice");
  static std::mutex mutex;
  static std::map<int, launch_limits> cache;  // entries are never erased, so references stay valid
  const std::lock_guard<std::mutex> lock(mutex);
  const auto found = cache.find(device);
  if (found != cache.end()) return found->second;
  auto attribute = [&](cudaDeviceAttr which) {
    int value = 0;
    check(cudaDeviceGetAttribute(&value, which, device), function, "cudaDeviceGetAttribute");
    return static_cast<long long>(value);
  };
  const launch_limits limits{attribute(cudaDevAttrMaxThreadsPerBlock),
                             {attribute(cudaDevAttrMaxBlockDimX), attribute(cudaDevAttrMaxBlockDimY),
                              attribute(cudaDevAttrMaxBlockDimZ)},
                             {attribute(cudaDevAttrMaxGridDimX), attribute(cudaDevAttrMaxGridDimY),
                              attribute(cudaDevAttrMaxGridDimZ)},
                             attribute(cudaDevAttrMaxSharedMemoryPerBlock)};
  return cache.emplace(device, limits).first->second;
}

// `function` is the memloc function (or program) launching, `kernel_name` the kernel as
// error messages name it.
template <class... Params, class... Args>
void launch(const char* function, const char* kernel_name, void (*kernel)(Params...), dim3 grid, dim3 block,
            std::size_t shared_bytes, cudaStream_t stream, Args&&... args) {
  check_launch_configuration(function, kernel_name, current_device_limits(function), {grid.x, grid.y, grid.z},
                             {block.x, block.y, block.z}, shared_bytes);
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  check(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...), function, kernel_name);
  check_launch(function, kernel_name);
}

}  // namespace memloc::detail::cuda
