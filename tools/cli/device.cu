// The command on the GPU: the streaming loops of folds.hpp with device memory. Each chunk
// is read from the .npy stream into host memory and copied to a device staging buffer on
// the command's stream; ids and labels are copied once; outputs come back at the end.

#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <memloc/memloc.cuh>

#include "device.hpp"

namespace memloc::cli {

namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw cuda_error(std::string("memloc command: ") + what + ": " + cudaGetErrorString(status));
}

class device_memory {
 public:
  using space = device_space;
  cuda_exec exec{};

  device_memory() { check(cudaStreamCreateWithFlags(&exec.stream, cudaStreamNonBlocking), "cudaStreamCreate"); }
  device_memory(const device_memory&) = delete;
  device_memory& operator=(const device_memory&) = delete;
  ~device_memory() {
    cudaStreamSynchronize(exec.stream);
    keep_.clear();
    cudaStreamDestroy(exec.stream);
  }

  // A host vector copied to the device for the rest of the run.
  template <class U>
  const U* place(const std::vector<U>& values) {
    U* device = allocate<U>(static_cast<index_t>(values.size()));
    check(cudaMemcpyAsync(device, values.data(), values.size() * sizeof(U), cudaMemcpyHostToDevice, exec.stream),
          "cudaMemcpyAsync");
    check(cudaStreamSynchronize(exec.stream), "cudaStreamSynchronize");  // `values` may go away after this
    return device;
  }

  // A chunk copied into staging buffer `slot`. The copy is ordered after the work that read
  // the previous chunk on the same stream; it returns once the host buffer may be reused.
  template <class U>
  const U* stage(const U* host, index_t n, int slot) {
    auto& buffer = staging_[slot];
    const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(U);
    if (buffer.bytes < bytes) {
      check(cudaStreamSynchronize(exec.stream), "cudaStreamSynchronize");
      buffer.memory = allocate_bytes(bytes);
      buffer.bytes = bytes;
    }
    check(cudaMemcpyAsync(buffer.memory, host, bytes, cudaMemcpyHostToDevice, exec.stream), "cudaMemcpyAsync");
    check(cudaStreamSynchronize(exec.stream), "cudaStreamSynchronize");
    return static_cast<const U*>(buffer.memory);
  }

  // Device memory for an output that fetch() later copies into `host`.
  template <class U>
  U* output(std::vector<U>& host) {
    U* device = allocate<U>(static_cast<index_t>(host.size()));
    outputs_[host.data()] = device;
    return device;
  }

  template <class U>
  void fetch(std::vector<U>& host) {
    if (host.empty()) return;
    const auto it = outputs_.find(host.data());
    if (it == outputs_.end()) return;
    check(cudaStreamSynchronize(exec.stream), "cudaStreamSynchronize");
    check(cudaMemcpy(host.data(), it->second, host.size() * sizeof(U), cudaMemcpyDeviceToHost), "cudaMemcpy");
  }

 private:
  struct staging_buffer {
    void* memory = nullptr;
    std::size_t bytes = 0;
  };

  void* allocate_bytes(std::size_t bytes) {
    void* p = nullptr;
    check(cudaMalloc(&p, bytes > 0 ? bytes : 1), "cudaMalloc");
    keep_.emplace_back(p, [](void* q) { cudaFree(q); });
    return p;
  }
  template <class U>
  U* allocate(index_t n) {
    return static_cast<U*>(allocate_bytes(static_cast<std::size_t>(n) * sizeof(U)));
  }

  std::vector<std::shared_ptr<void>> keep_;
  staging_buffer staging_[2];
  std::map<const void*, void*> outputs_;
};

}  // namespace

std::string cuda_problem() {
  int devices = 0;
  const cudaError_t status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess) return std::string("no usable CUDA device (") + cudaGetErrorString(status) + ")";
  if (devices == 0) return "no CUDA device";
  return {};
}

unitmem_result fold_unitmem_on_device(const npy::npy_stream& acts, const activation_layout& layout,
                                      const unitmem_options& options, const sample_info& samples, index_t requested_rows) {
  device_memory memory;
  return fold_unitmem_file(acts, layout, memory, options, samples, requested_rows);
}

void fold_alignment_on_device(const npy::npy_stream& f, const npy::npy_stream& g, const alignment_options& options,
                              point_result& point, index_t requested_rows) {
  device_memory memory;
  fold_alignment_files(f, g, memory, options, point, requested_rows);
}

}  // namespace memloc::cli
