#pragma once

// Block-shared memory for memloc's kernels, through two helpers instead of raw `__shared__`
// declarations, so that the same kernel source also runs on the test-only CPU execution
// (MEMLOC_CUDA_EMULATED), where a block's shared memory is an arena the emulation owns.
//   static_shared<T, Tag>(): one T (an array or a trivial struct) per block for each
//                            (T, Tag); a kernel names a distinct Tag type per use.
//   dynamic_shared<T>():     the launch's dynamic shared memory, 16-byte aligned.

#include <cstddef>

#if defined(MEMLOC_CUDA_EMULATED)
namespace memloc_emulation {
void* block_static_shared(const void* key, std::size_t bytes, std::size_t alignment);
void* block_dynamic_shared();
}  // namespace memloc_emulation
#endif

namespace memloc::kernels {

template <class T, class Tag>
__device__ inline T& static_shared() {
#if defined(MEMLOC_CUDA_EMULATED)
  static char key;  // one address per (T, Tag) instantiation
  return *static_cast<T*>(::memloc_emulation::block_static_shared(&key, sizeof(T), alignof(T)));
#else
  __shared__ T storage;
  return storage;
#endif
}

template <class T>
__device__ inline T* dynamic_shared() {
  static_assert(alignof(T) <= 16, "dynamic shared memory is 16-byte aligned");
#if defined(MEMLOC_CUDA_EMULATED)
  return static_cast<T*>(::memloc_emulation::block_dynamic_shared());
#else
  extern __shared__ __align__(16) unsigned char memloc_dynamic_shared[];
  return reinterpret_cast<T*>(memloc_dynamic_shared);
#endif
}

}  // namespace memloc::kernels
