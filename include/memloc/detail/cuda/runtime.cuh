#pragma once

// The CUDA runtime as memloc uses it: every call checked and turned into memloc::cuda_error
// naming the memloc function and the runtime call, owning device arrays, and the message of
// the status record through which kernels report bad device-resident input.

#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "../../error.hpp"
#include "../../view.hpp"
#include "../validate.hpp"
#include "memloc/kernels/status.cuh"

namespace memloc::detail::cuda {

inline void check(cudaError_t status, const char* function, const char* call) {
  if (status == cudaSuccess) return;
  throw cuda_error(concat(function, ": ", call, " failed: ", cudaGetErrorName(status), " (", cudaGetErrorString(status),
                          ")"));
}

// A launch reports configuration errors at once and faults of earlier work lazily; both
// are raised here, naming the kernel.
inline void check_launch(const char* function, const char* kernel) {
  check(cudaGetLastError(), function, kernel);
}

// Device memory owned by memloc: state and scratch of accumulators, allocated once when
// they are built. Move-only, as an accumulator's state cannot be shared.
template <class T>
class device_array {
 public:
  device_array() = default;
  device_array(index_t count, const char* function) : count_(count) {
    if (count > 0) check(cudaMalloc(reinterpret_cast<void**>(&data_), static_cast<std::size_t>(count) * sizeof(T)), function, "cudaMalloc");
  }
  device_array(const device_array&) = delete;
  device_array& operator=(const device_array&) = delete;
  device_array(device_array&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  device_array& operator=(device_array&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }
  ~device_array() { release(); }

  T* data() const noexcept { return data_; }
  index_t size() const noexcept { return count_; }
  std::size_t bytes() const noexcept { return static_cast<std::size_t>(count_) * sizeof(T); }

  void zero(cudaStream_t stream, const char* function) {
    if (count_ > 0) check(cudaMemsetAsync(data_, 0, bytes(), stream), function, "cudaMemsetAsync");
  }

 private:
  void release() noexcept {
    // cudaFree synchronises the device; an error here cannot be reported from a destructor
    // and would resurface at the next checked call.
    if (data_) cudaFree(data_);
    data_ = nullptr;
  }

  T* data_ = nullptr;
  index_t count_ = 0;
};

// A view of device-accessible memory (device or managed) as kernels take it.
template <class T, std::size_t Rank, class Space>
strided_view<T, Rank, device_space> device_view_of(const strided_view<T, Rank, Space>& v) noexcept {
  return {v.data_handle(), v.extents(), v.strides()};
}

inline void copy_to_host(void* host, const void* device, std::size_t bytes, cudaStream_t stream, const char* function) {
  check(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream), function, "cudaMemcpyAsync");
  check(cudaStreamSynchronize(stream), function, "cudaStreamSynchronize");
}

// What a kernel found wrong with device-resident input (memloc/kernels/status.cuh), raised
// here as the host would have raised it.
using kernels::input_problem;
using kernels::status_record;

// An id or label as the caller wrote it: an unsigned one past the int64 range stays positive.
inline std::string index_value_text(const status_record& r) {
  return r.argument == 1 ? concat(static_cast<unsigned long long>(r.value)) : concat(r.value);
}

inline std::string describe(const status_record& r, const char* updating) {
  const auto problem = static_cast<input_problem>(r.problem);
  switch (problem) {
    case input_problem::sample_id_out_of_range:
      return concat(updating, " (batch ", r.batch, ", found on the device): sample_ids(", r.position, ") must be in [0, ",
                    r.bound, "), got ", index_value_text(r));
    case input_problem::label_out_of_range:
      return concat(updating, " (batch ", r.batch, ", found on the device): labels(", r.position, ") must be in [0, ",
                    r.bound, "), got ", index_value_text(r));
    case input_problem::negative_distance:
    {
      double value = 0.0;
      std::memcpy(&value, &r.value, sizeof value);  // distances are recorded by their bits
      return concat(r.argument == 0 ? "ssl_f(" : "ssl_g(", r.position, ") must be a distance >= 0, got ", value);
    }
    case input_problem::none: break;
  }
  return {};
}

}  // namespace memloc::detail::cuda
