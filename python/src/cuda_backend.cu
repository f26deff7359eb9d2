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

// The calls on one accumulator may come on different streams (a PyTorch user switches with
// torch.cuda.stream(s)); each call's stream first waits for the work the previous call
// queued, so the state is never read and written from two streams unordered.
class stream_order {
 public:
  explicit stream_order(stream_handle first) : last_(as_stream(first)) {}
  stream_order(const stream_order&) = delete;
  stream_order& operator=(const stream_order&) = delete;
  ~stream_order() {
    if (event_ != nullptr) cudaEventDestroy(event_);
  }

  void follow(stream_handle stream, const char* function) {
    const cudaStream_t next = as_stream(stream);
    if (next == last_) return;
    if (event_ == nullptr) {
      detail::cuda::check(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming), function, "cudaEventCreateWithFlags");
    }
    detail::cuda::check(cudaEventRecord(event_, last_), function, "cudaEventRecord");
    detail::cuda::check(cudaStreamWaitEvent(next, event_, 0), function, "cudaStreamWaitEvent");
    last_ = next;
  }

 private:
  cudaStream_t last_;
  cudaEvent_t event_ = nullptr;
};

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

const std::int64_t* stage(int device, const std::int64_t* values, index_t count, stream_handle stream) {
  constexpr const char* fn = "memloc (Python): ids to the device";
  device_scope scope(device, fn);
  // One element at least, so an empty batch still gets a valid pointer to be refused by its checks.
  const std::size_t bytes = static_cast<std::size_t>(count > 0 ? count : 1) * sizeof(std::int64_t);
  void* copy = nullptr;
  detail::cuda::check(cudaMallocAsync(&copy, bytes, as_stream(stream)), fn, "cudaMallocAsync");
  if (count > 0) {
    // From pageable memory the copy has read `values` when it returns, so the caller may free it.
    const cudaError_t status = cudaMemcpyAsync(copy, values, static_cast<std::size_t>(count) * sizeof(std::int64_t),
                                               cudaMemcpyHostToDevice, as_stream(stream));
    if (status != cudaSuccess) cudaFreeAsync(copy, as_stream(stream));
    detail::cuda::check(status, fn, "cudaMemcpyAsync");
  }
  return static_cast<const std::int64_t*>(copy);
}

void release_staged(int device, const void* pointer, stream_handle stream) noexcept {
  if (pointer == nullptr) return;
  int previous = device;
  const bool switch_back = cudaGetDevice(&previous) == cudaSuccess && previous != device;
  if (switch_back) cudaSetDevice(device);
  cudaFreeAsync(const_cast<void*>(pointer), as_stream(stream));
  if (switch_back) cudaSetDevice(previous);
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

stream_handle stream_create(int device) {
  constexpr const char* fn = "memloc (Python): stream";
  device_scope scope(device, fn);
  cudaStream_t stream = nullptr;
  detail::cuda::check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), fn, "cudaStreamCreateWithFlags");
  return reinterpret_cast<stream_handle>(stream);
}

void stream_destroy(int device, stream_handle stream) {
  constexpr const char* fn = "memloc (Python): stream";
  device_scope scope(device, fn);
  detail::cuda::check(cudaStreamSynchronize(as_stream(stream)), fn, "cudaStreamSynchronize");
  detail::cuda::check(cudaStreamDestroy(as_stream(stream)), fn, "cudaStreamDestroy");
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
    impl(int d, stream_handle stream, const shape_type& shape, const options_type& options)                       \
        : device(d), acc(stream, shape, options), order(stream) {}                                                \
    int device;                                                                                                   \
    name##_of<device_space> acc;                                                                                  \
    stream_order order;                                                                                           \
  };                                                                                                              \
  name::name(int device, stream_handle stream, const shape_type& shape, const options_type& options) {            \
    device_scope scope(device, "memloc::" #name "_accumulator");                                                  \
    impl_ = std::make_unique<impl>(device, stream, shape, options);                                               \
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
    impl_->order.follow(stream, "memloc::" #name "_accumulator::merge");                                          \
    other.impl_->order.follow(stream, "memloc::" #name "_accumulator::merge");                                    \
    impl_->acc.merge(stream, other.impl_->acc);                                                                   \
  }                                                                                                               \
  void name::reset(stream_handle stream) {                                                                        \
    device_scope scope(impl_->device, "memloc::" #name "_accumulator::reset");                                    \
    impl_->order.follow(stream, "memloc::" #name "_accumulator::reset");                                          \
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
  impl_->order.follow(stream, "memloc::unitmem_accumulator::update");
  impl_->acc.update(stream, acts, ids);
}

unitmem_report unitmem::finalize(stream_handle stream, const unit_outputs_raw& out) const {
  device_scope scope(impl_->device, "memloc::unitmem_accumulator::finalize");
  impl_->order.follow(stream, "memloc::unitmem_accumulator::finalize");
  return impl_->acc.finalize(stream, out);
}

void classmem::update(stream_handle stream, const activations_desc& acts, const index_desc& ids,
                      const index_desc& labels) {
  device_scope scope(impl_->device, "memloc::classmem_accumulator::update");
  impl_->order.follow(stream, "memloc::classmem_accumulator::update");
  impl_->acc.update(stream, acts, ids, labels);
}

classmem_report classmem::finalize(stream_handle stream, const unit_outputs_raw& out) const {
  device_scope scope(impl_->device, "memloc::classmem_accumulator::finalize");
  impl_->order.follow(stream, "memloc::classmem_accumulator::finalize");
  return impl_->acc.finalize(stream, out);
}

void alignment::update(stream_handle stream, const representations_desc& f, const representations_desc& g,
                       const index_desc& ids) {
  device_scope scope(impl_->device, "memloc::alignment_accumulator::update");
  impl_->order.follow(stream, "memloc::alignment_accumulator::update");
  impl_->acc.update(stream, f, g, ids);
}

void alignment::finalize(stream_handle stream, double* ssl_f, double* ssl_g) const {
  device_scope scope(impl_->device, "memloc::alignment_accumulator::finalize");
  impl_->order.follow(stream, "memloc::alignment_accumulator::finalize");
  impl_->acc.finalize(stream, ssl_f, ssl_g);
}

}  // namespace memloc::python::device
