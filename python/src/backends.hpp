#pragma once

// The two backends behind the Python accumulators, with one interface so that a single
// binding (module.cpp) serves both: arrays arrive as descriptors (pointer, element type,
// extents, strides) that nanobind has already read, and each backend turns them into typed
// memloc views. This header names no nanobind and no CUDA type, so cuda_backend.cu can be
// compiled by nvcc, or by the host compiler on memloc's emulation of CUDA, without either.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <memloc/alignment_types.hpp>
#include <memloc/classmem_types.hpp>
#include <memloc/core.hpp>
#include <memloc/unitmem_types.hpp>

namespace memloc::python {

enum class element_type { f32, f64, f16, bf16 };

struct activations_desc {
  const void* data = nullptr;
  element_type type = element_type::f32;
  std::array<index_t, 4> extents{};  // samples, views, units, positions
  std::array<index_t, 4> strides{};
};

struct representations_desc {
  const void* data = nullptr;
  element_type type = element_type::f32;
  std::array<index_t, 3> extents{};  // samples, views, features
  std::array<index_t, 3> strides{};
};

// int64 ids or labels, in the memory of the backend that reads them.
struct index_desc {
  const std::int64_t* data = nullptr;
  index_t size = 0;
  index_t stride = 1;
};

// The raw stream handle of the producing framework (cudaStream_t as an integer; 0 is the
// legacy default stream). The host backend ignores it.
using stream_handle = std::uintptr_t;

using signature_fields = std::vector<std::pair<std::string, std::int64_t>>;

// Calls f(static_cast<const T*>(data)) with T the memloc element type of `type`.
template <class F>
decltype(auto) with_element(element_type type, const void* data, F&& f) {
  switch (type) {
    case element_type::f64: return f(static_cast<const double*>(data));
    case element_type::f16: return f(static_cast<const half*>(data));
    case element_type::bf16: return f(static_cast<const bfloat16*>(data));
    case element_type::f32: break;
  }
  return f(static_cast<const float*>(data));
}

template <class Space, class T>
activations_view<const T, Space> typed_view(const activations_desc& d, const T* data) {
  return activations_view<const T, Space>(data, d.extents, d.strides);
}

template <class Space, class T>
representations_view<const T, Space> typed_view(const representations_desc& d, const T* data) {
  return representations_view<const T, Space>(data, d.extents, d.strides);
}

template <class Space>
vector_view<const std::int64_t, Space> typed_view(const index_desc& d) {
  return vector_view<const std::int64_t, Space>(d.data, {d.size}, {d.stride});
}

struct unit_outputs_raw {
  double* score = nullptr;  // UnitMem or ClassMem
  double* mu_max = nullptr;
  std::int64_t* argmax = nullptr;  // sample id (UnitMem) or class (ClassMem)
  double* mu_rest = nullptr;
};

// CUDA accumulators and device memory, defined in cuda_backend.cu. Each call makes the
// accumulator's device current for its duration and enqueues on `stream`.
namespace device {

// Device memory owned by the Python object that holds it (an output or a staging buffer).
void* allocate(int device, std::size_t bytes);
void release(int device, void* pointer) noexcept;
// Ids or labels copied to the device on `stream` (stream-ordered allocation), and their
// release after the work queued on `stream` has read them; neither waits for the device.
const std::int64_t* stage(int device, const std::int64_t* values, index_t count, stream_handle stream);
void release_staged(int device, const void* pointer, stream_handle stream) noexcept;
// Stream-ordered copies; to_host waits for the copy.
void copy_to_device(int device, void* destination, const void* source, std::size_t bytes, stream_handle stream);
void copy_to_host(int device, void* destination, const void* source, std::size_t bytes, stream_handle stream);
int device_count();
stream_handle stream_create(int device);
void stream_destroy(int device, stream_handle stream);

class unitmem {
 public:
  static constexpr bool on_device = true;
  unitmem(int device, stream_handle stream, const unitmem_shape& shape, const unitmem_options& options);
  ~unitmem();
  unitmem(unitmem&&) noexcept;
  void update(stream_handle stream, const activations_desc& acts, const index_desc& ids);
  void merge(stream_handle stream, const unitmem& other);
  unitmem_report finalize(stream_handle stream, const unit_outputs_raw& out) const;
  void reset(stream_handle stream);
  std::vector<state_buffer> state_buffers();
  signature_fields signature() const;
  const unitmem_shape& shape() const;
  int device() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

class classmem {
 public:
  static constexpr bool on_device = true;
  classmem(int device, stream_handle stream, const classmem_shape& shape, const classmem_options& options);
  ~classmem();
  classmem(classmem&&) noexcept;
  void update(stream_handle stream, const activations_desc& acts, const index_desc& ids, const index_desc& labels);
  void merge(stream_handle stream, const classmem& other);
  classmem_report finalize(stream_handle stream, const unit_outputs_raw& out) const;
  void reset(stream_handle stream);
  std::vector<state_buffer> state_buffers();
  signature_fields signature() const;
  const classmem_shape& shape() const;
  int device() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

class alignment {
 public:
  static constexpr bool on_device = true;
  alignment(int device, stream_handle stream, const alignment_shape& shape, const alignment_options& options);
  ~alignment();
  alignment(alignment&&) noexcept;
  void update(stream_handle stream, const representations_desc& f, const representations_desc& g, const index_desc& ids);
  void merge(stream_handle stream, const alignment& other);
  void finalize(stream_handle stream, double* ssl_f, double* ssl_g) const;
  void reset(stream_handle stream);
  std::vector<state_buffer> state_buffers();
  signature_fields signature() const;
  const alignment_shape& shape() const;
  int device() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace device

}  // namespace memloc::python
