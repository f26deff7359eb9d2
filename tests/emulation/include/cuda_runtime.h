#pragma once

// Shadows the toolkit's cuda_runtime.h for memloc's CPU execution of CUDA (test-only): the
// runtime's C declarations stay the toolkit's (the runtime half defines them), and the one C++
// launch template memloc calls, cudaLaunchKernelEx, queues the kernel on the emulated stream.

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "memloc_emulation/device.hpp"
#include "memloc_emulation/interface.hpp"

namespace memloc_emulation::detail {

// A GPU's limits (every device memloc supports): what cudaLaunchKernelEx rejects with
// cudaErrorInvalidConfiguration before anything runs.
bool valid_configuration(const cudaLaunchConfig_t& config);

// The kernel's demangled symbol (dladdr), or its address where the symbol is not exported.
std::string kernel_name(const void* kernel);

// Adds the device allocation holding `address`, if any, to `regions` (one entry per
// allocation; written wins over read).
void add_region(std::vector<region>& regions, const void* address, bool written);

template <class T, class = void>
struct has_const_element_type : std::false_type {};
template <class T>
struct has_const_element_type<T, std::void_t<typename T::element_type>> : std::is_const<typename T::element_type> {};

// Device memory an argument reaches. A pointer says by its pointee whether the kernel may
// write; a class (a view) is scanned word by word for device addresses, written unless it
// declares a const element_type, as memloc's strided_view does.
template <class T>
void add_argument_regions(std::vector<region>& regions, const T& argument) {
  if constexpr (std::is_pointer_v<T>) {
    add_region(regions, static_cast<const void*>(argument), !std::is_const_v<std::remove_pointer_t<T>>);
  } else if constexpr (std::is_class_v<T>) {
    const bool written = !has_const_element_type<T>::value;
    const auto* bytes = reinterpret_cast<const unsigned char*>(&argument);
    for (std::size_t offset = 0; offset + sizeof(void*) <= sizeof(T); offset += alignof(void*)) {
      const void* word = nullptr;
      std::memcpy(&word, bytes + offset, sizeof(word));
      add_region(regions, word, written);
    }
  }
}

// A kernel parameter is copy-initialized from its argument, as in the toolkit's
// cudaLaunchKernelEx: implicit conversions only (a static_cast would also allow explicit ones).
template <class Parameter, class Argument>
Parameter as_parameter(Argument&& argument) {
  return std::forward<Argument>(argument);
}

}  // namespace memloc_emulation::detail

template <class... ExpTypes, class... ActTypes>
cudaError_t cudaLaunchKernelEx(const cudaLaunchConfig_t* config, void (*kernel)(ExpTypes...), ActTypes&&... args) {
  static_assert(sizeof...(ExpTypes) == sizeof...(ActTypes), "cudaLaunchKernelEx: wrong number of kernel arguments");
  if (config == nullptr || kernel == nullptr || !memloc_emulation::detail::valid_configuration(*config)) {
    memloc_emulation::set_last_error(cudaErrorInvalidConfiguration);
    return cudaErrorInvalidConfiguration;
  }
  // CUDA copies the arguments at the launch, not when the kernel runs.
  std::tuple<std::decay_t<ExpTypes>...> arguments(
      memloc_emulation::detail::as_parameter<std::decay_t<ExpTypes>>(std::forward<ActTypes>(args))...);

  memloc_emulation::launch_description description;
  description.kernel = memloc_emulation::detail::kernel_name(reinterpret_cast<const void*>(kernel));
  description.grid = config->gridDim;
  description.block = config->blockDim;
  description.dynamic_shared_bytes = config->dynamicSmemBytes;
  std::apply(
      [&](const auto&... argument) {
        (memloc_emulation::detail::add_argument_regions(description.regions, argument), ...);
      },
      arguments);

  auto run = [kernel, arguments = std::move(arguments), description]() {
    memloc_emulation::run_grid(description, [&] { std::apply(kernel, arguments); });
  };
  return memloc_emulation::enqueue_kernel(config->stream, std::move(description), std::move(run));
}

// The typed conveniences the toolkit's cuda_runtime.h adds over the C API, so code written
// against them (cudaMalloc(&typed_pointer, bytes)) compiles here unchanged.
template <class T>
cudaError_t cudaMalloc(T** device_pointer, std::size_t bytes) {
  return ::cudaMalloc(reinterpret_cast<void**>(device_pointer), bytes);
}

template <class T>
cudaError_t cudaMallocHost(T** host_pointer, std::size_t bytes, unsigned int flags = 0) {
  return ::cudaHostAlloc(reinterpret_cast<void**>(host_pointer), bytes, flags);
}

template <class T>
cudaError_t cudaHostAlloc(T** host_pointer, std::size_t bytes, unsigned int flags) {
  return ::cudaHostAlloc(reinterpret_cast<void**>(host_pointer), bytes, flags);
}

template <class T>
cudaError_t cudaMallocAsync(T** device_pointer, std::size_t bytes, cudaStream_t stream) {
  return ::cudaMallocAsync(reinterpret_cast<void**>(device_pointer), bytes, stream);
}

inline cudaError_t cudaEventCreate(cudaEvent_t* event, unsigned int flags) {
  return ::cudaEventCreateWithFlags(event, flags);
}
