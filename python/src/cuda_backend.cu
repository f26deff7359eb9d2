// The CUDA side of the Python bindings (backends.hpp, namespace device): the CUDA
// accumulators behind memloc.UnitMem(..., device="cuda") and friends, and the device memory
// their outputs live in. No nanobind here: nvcc compiles this file for a GPU build, and the
// host compiler compiles it against memloc's emulation of CUDA for the tests that run on
// every commit.

#include <memloc/memloc.cuh>

#include "backends.hpp"

namespace memloc::python {

inline cuda_exec exec_for(device_space, stream_handle stream) {
  return cuda_exec{reinterpret_cast<cudaStream_t>(stream)};
}

}  // namespace memloc::python

#include "accumulators.hpp"

namespace memloc::python::device {

namespace {

// Makes `device` current for one call and restores the caller's device, as PyTorch's
// device guards do: Python code may drive several GPUs from one thread.
class device_scope {
 public:
  explicit device_scope(int device, const char* function) {
    detail::cuda::check(cudaGetDevice(&previous_), function, "cudaGetDevice");
    if (previous_ != device) detail::cuda::check(cudaSetDevice(device), function, "cudaSetDevice");
    switched_ = previous_ != device;
  }
  device_scope(const device_scope&) = delete;
  device_scope& operator=(const device_scope&) = delete;
  ~device_scope() {
    if (switched_) cudaSetDevice(previous_);
  }

 private:
  int previous_ = 0;
  bool switched_ = false;
};

cudaStream_t as_stream(stream_handle stream) { return reinterpret_cast<cudaStream_t>(stream); }

}  // namespace

void* allocate(int device, std::size_t bytes) {
  constexpr const char* fn = "memloc (Python): device output";
  device_scope scope(device, fn);
  void* pointer = nullptr;
  if (bytes > 0) detail::cuda::check(cudaMalloc(&pointer, bytes), fn, "cudaMalloc");
  return pointer;
}

void release(int device, void* pointer) noexcept {
  if (pointer == nullptr) return;
  int previous = 0;
  // cudaFree waits for the device, so no queued kernel still writes the memory it frees.
  if (cudaGetDevice(&previous) == cudaSuccess && previous != device) cudaSetDevice(device);
  cudaFree(pointer);
  if (previous != device) cudaSetDevice(previous);
}

void copy_to_device(int device, void* destination, const void* source, std::size_t bytes, stream_handle stream) {
  constexpr const char* fn = "memloc (Python): ids to the device";
  device_scope scope(device, fn);
  // From pageable memory the copy has read `source` when it returns, so the caller may free it.
  detail::cuda::check(cudaMemcpyAsync(destination, source, bytes, cudaMemcpyHostToDevice, as_stream(stream)), fn,
                      "cudaMemcpyAsync");
}

void copy_to_host(int device, void* destination, const void* source, std::size_t bytes, stream_handle stream) {
  constexpr const char* fn = "memloc (Python): device array to the host";
  device_scope scope(device, fn);
  detail::cuda::check(cudaMemcpyAsync(destination, source, bytes, cudaMemcpyDeviceToHost, as_stream(stream)), fn,
                      "cudaMemcpyAsync");
  detail::cuda::check(cudaStreamSynchronize(as_stream(stream)), fn, "cudaStreamSynchronize");
}

int device_count() {
  int count = 0;
  // No driver or no device: the module still imports, and says so when asked for a device.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

// Each accumulator: its device, and the shared implementation (accumulators.hpp) on it.
#define MEMLOC_PYTHON_DEVICE_ACCUMULATOR(name, shape_type, options_type)                                        \
  struct name::impl {                                                                                             \
    int device;                                                                                                   \
    name##_of<device_space> acc;                                                                                  \
  };                                                                                                              \
  name::name(int device, stream_handle stream, const shape_type& shape, const options_type& options) {            \
    device_scope scope(device, "memloc::" #name "_accumulator");                                                  \
    impl_.reset(new impl{device, name##_of<device_space>(stream, shape, options)});                               \
  }                                                                                                               \
  name::~name() {                                                                                                 \
    if (!impl_) return;                                                                                           \
    int previous = impl_->device;                                                                                 \
    const bool switch_back = cudaGetDevice(&previous) == cudaSuccess && previous != impl_->device;               \
    if (switch_back) cudaSetDevice(impl_->device);                                                                \
    impl_.reset();                                                                                                \
    if (switch_back) cudaSetDevice(previous);                                                                     \
  }                                                                                                               \
  name::name(name&&) noexcept = default;                                                                          \
  void name::merge(stream_handle stream, const name& other) {                                                     \
    device_scope scope(impl_->device, "memloc::" #name "_accumulator::merge");                                    \
    impl_->acc.merge(stream, other.impl_->acc);                                                                   \
  }                                                                                                               \
  void name::reset(stream_handle stream) {                                                                        \
    device_scope scope(impl_->device, "memloc::" #name "_accumulator::reset");                                    \
    impl_->acc.reset(stream);                                                                                     \
  }                                                                                                               \
  std::vector<state_buffer> name::state_buffers() { return impl_->acc.state_buffers(); }                          \
  signature_fields name::signature() const { return impl_->acc.signature(); }                                     \
  const shape_type& name::shape() const { return impl_->acc.shape(); }                                            \
  int name::device() const { return impl_->device; }

MEMLOC_PYTHON_DEVICE_ACCUMULATOR(unitmem, unitmem_shape, unitmem_options)
MEMLOC_PYTHON_DEVICE_ACCUMULATOR(classmem, classmem_shape, classmem_options)
MEMLOC_PYTHON_DEVICE_ACCUMULATOR(alignment, alignment_shape, alignment_options)

#undef MEMLOC_PYTHON_DEVICE_ACCUMULATOR

void unitmem::update(stream_handle stream, const activations_desc& acts, const index_desc& ids) {
  device_scope scope(impl_->device, "memloc::unitmem_accumulator::update");
  impl_->acc.update(stream, acts, ids);
}

unitmem_report unitmem::finalize(stream_handle stream, const unit_outputs_raw& out) const {
  device_scope scope(impl_->device, "memloc::unitmem_accumulator::finalize");
  return impl_->acc.finalize(stream, out);
}

void classmem::update(stream_handle stream, const activations_desc& acts, const index_desc& ids,
                      const index_desc& labels) {
  device_scope scope(impl_->device, "memloc::classmem_accumulator::update");
  impl_->acc.update(stream, acts, ids, labels);
}

classmem_report classmem::finalize(stream_handle stream, const unit_outputs_raw& out) const {
  device_scope scope(impl_->device, "memloc::classmem_accumulator::finalize");
  return impl_->acc.finalize(stream, out);
}

void alignment::update(stream_handle stream, const representations_desc& f, const representations_desc& g,
                       const index_desc& ids) {
  device_scope scope(impl_->device, "memloc::alignment_accumulator::update");
  impl_->acc.update(stream, f, g, ids);
}

void alignment::finalize(stream_handle stream, double* ssl_f, double* ssl_g) const {
  device_scope scope(impl_->device, "memloc::alignment_accumulator::finalize");
  impl_->acc.finalize(stream, ssl_f, ssl_g);
}

}  // namespace memloc::python::device
