// Development stand-in for the runtime half (src/runtime.cpp, built in another worktree), used
// with -DMEMLOC_EMULATION_STUB=runtime: a kernel runs at its launch, device memory is host
// memory known by its allocation, and only the runtime calls the self-tests make exist.

#include <cuda_runtime_api.h>

#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <utility>

#include "memloc_emulation/interface.hpp"

namespace memloc_emulation {
namespace {

std::mutex allocations_mutex;
std::map<const char*, std::size_t> allocations;  // first byte -> size
thread_local cudaError_t last_error = cudaSuccess;

}  // namespace

cudaError_t enqueue_kernel(cudaStream_t, launch_description, std::function<void()> run) {
  run();
  return cudaSuccess;
}

bool find_device_allocation(const void* address, const void** base, std::size_t* bytes) {
  const std::lock_guard<std::mutex> lock(allocations_mutex);
  const auto* byte = static_cast<const char*>(address);
  auto after = allocations.upper_bound(byte);
  if (after == allocations.begin()) return false;
  const auto holder = std::prev(after);
  if (byte >= holder->first + holder->second) return false;
  *base = holder->first;
  *bytes = holder->second;
  return true;
}

void set_last_error(cudaError_t error) { last_error = error; }

}  // namespace memloc_emulation

extern "C" {

cudaError_t cudaMalloc(void** pointer, size_t bytes) {
  *pointer = std::calloc(bytes == 0 ? 1 : bytes, 1);
  const std::lock_guard<std::mutex> lock(memloc_emulation::allocations_mutex);
  memloc_emulation::allocations[static_cast<const char*>(*pointer)] = bytes;
  return cudaSuccess;
}

cudaError_t cudaFree(void* pointer) {
  {
    const std::lock_guard<std::mutex> lock(memloc_emulation::allocations_mutex);
    memloc_emulation::allocations.erase(static_cast<const char*>(pointer));
  }
  std::free(pointer);
  return cudaSuccess;
}

cudaError_t cudaGetLastError() { return std::exchange(memloc_emulation::last_error, cudaSuccess); }

cudaError_t cudaPeekAtLastError() { return memloc_emulation::last_error; }

cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

}  // extern "C"
