#pragma once

// The CUDA backend as a test parameter: the same arena interface as host_arena, over device
// memory. `place` copies a host buffer to the device and returns a device view with the
// same extents, strides and offset; `output` allocates device memory filled with a value;
// `fetch` copies a buffer back. Work runs on a non-default stream so that a missing stream
// argument somewhere in the backend would show up as a race under compute-sanitizer.

#include <doctest/doctest.h>

#include <cuda_runtime.h>

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <memloc/memloc.cuh>

#include "../test_support.hpp"

namespace testing {

// On memloc's CPU execution of CUDA (tests/emulation) every device thread runs on the host, so
// shapes that are large only to load a GPU shrink there while reaching the same code paths.
#if defined(MEMLOC_CUDA_EMULATED)
inline constexpr bool on_emulation = true;
#else
inline constexpr bool on_emulation = false;
#endif

inline void cuda_require(cudaError_t status, const char* what) {
  if (status != cudaSuccess) FAIL(what, ": ", cudaGetErrorString(status));
}

struct cuda_stream_holder {
  cudaStream_t stream = nullptr;
  cuda_stream_holder() { cuda_require(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate"); }
  ~cuda_stream_holder() { cudaStreamDestroy(stream); }
};

inline cudaStream_t test_stream() {
  static cuda_stream_holder holder;
  return holder.stream;
}

// A copy from pageable memory may return before the data reaches the device, and the test
// stream does not wait for the legacy stream: copies go on the test stream and are waited for.
inline void upload(void* device, const void* host, std::size_t bytes) {
  cuda_require(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, test_stream()), "cudaMemcpyAsync");
  cuda_require(cudaStreamSynchronize(test_stream()), "cudaStreamSynchronize");
}

inline void download(void* host, const void* device, std::size_t bytes) {
  cuda_require(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, test_stream()), "cudaMemcpyAsync");
  cuda_require(cudaStreamSynchronize(test_stream()), "cudaStreamSynchronize");
}

template <class T>
struct device_buffer {
  std::shared_ptr<void> memory;
  T* data = nullptr;
  index_t count = 0;
  memloc::vector_view<T, memloc::device_space> view() const { return memloc::vector_view<T, memloc::device_space>(data, {count}); }
};

template <class T>
device_buffer<T> device_allocate(index_t count) {
  void* p = nullptr;
  const std::size_t bytes = static_cast<std::size_t>(count > 0 ? count : 1) * sizeof(T);
  cuda_require(cudaMalloc(&p, bytes), "cudaMalloc");
  device_buffer<T> b;
  b.memory = std::shared_ptr<void>(p, [](void* q) { cudaFree(q); });
  b.data = static_cast<T*>(p);
  b.count = count;
  return b;
}

struct cuda_arena {
  std::vector<std::shared_ptr<void>> keep;

  // The whole host storage goes to the device so that strides and padding keep meaning.
  template <class T, std::size_t R>
  memloc::strided_view<T, R, memloc::device_space> place(std::vector<std::remove_const_t<T>>& storage,
                                                         const memloc::strided_view<T, R>& v) {
    using V = std::remove_const_t<T>;
    auto b = device_allocate<V>(static_cast<index_t>(storage.size()));
    upload(b.data, storage.data(), storage.size() * sizeof(V));
    keep.push_back(b.memory);
    V* origin = b.data;
    if (v.data_handle() == nullptr) origin = nullptr;
    const auto offset = v.data_handle() == nullptr ? 0 : v.data_handle() - storage.data();
    return memloc::strided_view<T, R, memloc::device_space>(origin ? origin + offset : nullptr, v.extents(), v.strides());
  }

  template <class T>
  device_buffer<T> output(index_t n, T fill = T{}) {
    auto b = device_allocate<T>(n);
    std::vector<T> host(static_cast<std::size_t>(n), fill);
    upload(b.data, host.data(), host.size() * sizeof(T));
    keep.push_back(b.memory);
    return b;
  }

  void read_raw(void* host, const void* device, std::size_t bytes) { download(host, device, bytes); }
  void write_raw(void* device, const void* host, std::size_t bytes) { upload(device, host, bytes); }

  template <class T>
  std::vector<T> fetch(const device_buffer<T>& b) {
    std::vector<T> host(static_cast<std::size_t>(b.count));
    download(host.data(), b.data, host.size() * sizeof(T));
    return host;
  }
};

struct cuda_backend {
  static constexpr const char* name = "cuda";
  // Device-resident ids and labels are checked by the kernels; a bad one is raised by the
  // next call that waits for the device (finalize, merge) and poisons the state.
  static constexpr bool checks_indices_on_device = true;
  using space = memloc::device_space;
  using arena = cuda_arena;
  static memloc::cuda_exec exec() { return memloc::cuda_exec{test_stream()}; }
};

}  // namespace testing
