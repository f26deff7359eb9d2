#pragma once

// The launch configuration checks of the one CUDA launch helper (detail/cuda/launch.cuh),
// kept free of CUDA headers so that host tests can reach them: a grid, a block and a
// dynamic shared memory size against the limits of a device.

#include <cstddef>
#include <cstdint>

#include "../error.hpp"
#include "validate.hpp"

namespace memloc::detail {

// A grid or block shape, as dim3 holds it.
struct launch_extent {
  unsigned x, y, z;
};

// The device attributes a launch is checked against.
struct launch_limits {
  long long max_threads_per_block;  // cudaDevAttrMaxThreadsPerBlock
  long long max_block[3];           // cudaDevAttrMaxBlockDimX, Y, Z
  long long max_grid[3];            // cudaDevAttrMaxGridDimX, Y, Z
  long long max_shared_bytes;       // cudaDevAttrMaxSharedMemoryPerBlock
};

// Throws memloc::cuda_error naming the memloc function, the kernel, the limit and the value
// when the configuration would not launch.
inline void check_launch_configuration(const char* function, const char* kernel, const launch_limits& limits,
                                       launch_extent grid, launch_extent block, std::size_t shared_bytes) {
  auto refuse = [&](auto&&... parts) {
    throw cuda_error(concat(function, ": ", kernel, " launch: ", parts...));
  };
  static constexpr const char* axes[3] = {"x", "y", "z"};
  static constexpr const char* attribute_axes[3] = {"X", "Y", "Z"};
  const unsigned grid_dims[3] = {grid.x, grid.y, grid.z};
  const unsigned block_dims[3] = {block.x, block.y, block.z};
  for (int a = 0; a < 3; ++a) {
    if (grid_dims[a] == 0) refuse("grid.", axes[a], " must be >= 1, got 0");
    if (block_dims[a] == 0) refuse("block.", axes[a], " must be >= 1, got 0");
  }
  const long long threads = static_cast<long long>(block.x) * block.y * block.z;
  if (threads > limits.max_threads_per_block) {
    refuse("block threads must be at most ", limits.max_threads_per_block, " (cudaDevAttrMaxThreadsPerBlock), got ",
           threads);
  }
  for (int a = 0; a < 3; ++a) {
    if (block_dims[a] > limits.max_block[a]) {
      refuse("block.", axes[a], " must be at most ", limits.max_block[a], " (cudaDevAttrMaxBlockDim", attribute_axes[a], "), got ", block_dims[a]);
    }
    if (grid_dims[a] > limits.max_grid[a]) {
      refuse("grid.", axes[a], " must be at most ", limits.max_grid[a], " (cudaDevAttrMaxGridDim", attribute_axes[a], "), got ", grid_dims[a]);
    }
  }
  if (static_cast<long long>(shared_bytes) > limits.max_shared_bytes) {
    refuse("dynamic shared memory bytes must be at most ", limits.max_shared_bytes,
           " (cudaDevAttrMaxSharedMemoryPerBlock), got ", shared_bytes);
  }
}

}  // namespace memloc::detail
