#pragma once

// CUDA's device built-ins for memloc's CPU execution of its kernels (test-only). Force-included
// ahead of every emulated translation unit, as nvcc's implicit includes are, so kernel sources
// compile unchanged with the host compiler. The threads of a block are cooperative fibers run
// by src/execution.cpp; every built-in that synchronizes threads switches fibers there.

#include <cuda_runtime_api.h>  // first: its host_defines.h is what the definitions below replace

#include <cstdint>
#include <cstring>
#include <type_traits>

// host_defines.h turns the execution spaces into empty annotations for a host compiler;
// they are spelled out here so the emulation does not depend on that detail.
#undef __global__
#define __global__
#undef __device__
#define __device__
#undef __host__
#define __host__
#undef __constant__
#define __constant__
#undef __forceinline__
#define __forceinline__ inline
// Empty rather than __attribute__((noinline)): libstdc++ spells __attribute__((__noinline__)),
// which that definition would break, and inlining never changes what a kernel computes.
#undef __noinline__
#define __noinline__
#undef __launch_bounds__
#define __launch_bounds__(...)
#undef __align__
#define __align__(n) __attribute__((aligned(n)))
// __restrict__ is GCC's own keyword and stays.

// A plain __shared__ variable would become one object per fiber (a stack variable) or one per
// process (a static), silently wrong either way; it must go through the block's arena.
#undef __shared__
// (_Pragma takes one string literal, hence the long line.)
// clang-format off
#define __shared__ _Pragma("GCC error \"__shared__ is not emulated: use memloc::kernels::static_shared<T, Tag>() or dynamic_shared<T>() from kernels/memloc/kernels/shared_memory.cuh\"")
// clang-format on

namespace memloc_emulation {

namespace detail {

enum class barrier_kind { plain, count, all, any };
// Blocks the calling fiber until every live thread of the block reaches a barrier; the result
// is the count / and / or of the predicates (plain: 0). `file` and `line` name the call site,
// which must be the same for every thread.
int block_barrier(barrier_kind kind, int predicate, const char* file, int line);

enum class warp_kind { sync, shfl_idx, shfl_up, shfl_down, shfl_xor, ballot, any, all };
// Blocks the calling fiber until every lane of `mask` arrives, then returns this lane's result:
// the shuffled bits, the ballot, or the any / all predicate.
std::uint64_t warp_operation(warp_kind kind, unsigned mask, std::uint64_t bits, int operand, int width,
                             const char* file, int line);
unsigned active_mask();

template <class T>
std::uint64_t to_bits(const T& value) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "a warp shuffle moves at most 8 bytes");
  std::uint64_t bits = 0;
  std::memcpy(&bits, static_cast<const void*>(&value), sizeof(T));
  return bits;
}

template <class T>
T from_bits(std::uint64_t bits) {
  T value;
  std::memcpy(static_cast<void*>(&value), &bits, sizeof(T));
  return value;
}

template <class T>
T shuffle(warp_kind kind, unsigned mask, const T& value, int operand, int width, const char* file, int line) {
  return from_bits<T>(warp_operation(kind, mask, to_bits(value), operand, width, file, line));
}

// Device atomics are host atomics: the threads of a block are fibers of one host thread, so a
// plain read-modify-write would do today, but these keep CUDA's contract if grids ever run on
// several host threads (the runtime half runs everything on the calling thread, and is not
// safe to call from several at once).
// x86 performs a misaligned atomic (as a split lock) where a GPU stops the kernel with a
// misaligned-address error: report it instead of computing on.
[[noreturn]] void misaligned_atomic(const void* address, std::size_t bytes);
template <class T>
void require_aligned(const T* address) {
  if (reinterpret_cast<std::uintptr_t>(address) % sizeof(T) != 0) misaligned_atomic(address, sizeof(T));
}

// Likewise a GPU's 8- and 16-byte loads: where a kernel reads a vector through a cast
// (memloc::kernels::load_vector), a misaligned address is reported, not read.
[[noreturn]] void misaligned_load(const void* address, std::size_t bytes);
inline void require_load_aligned(const void* address, std::size_t bytes) {
  if (reinterpret_cast<std::uintptr_t>(address) % bytes != 0) misaligned_load(address, bytes);
}

template <class T, class Update>
T atomic_update(T* address, Update update) {
  require_aligned(address);
  T old;
  __atomic_load(address, &old, __ATOMIC_RELAXED);
  T desired = update(old);
  while (!__atomic_compare_exchange(address, &old, &desired, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
    desired = update(old);
  }
  return old;
}

}  // namespace detail
}  // namespace memloc_emulation

inline constexpr int warpSize = 32;

// The built-in variables of the fiber now running, set by the scheduler at every switch.
// Variables, not macros: cudaLaunchConfig_t has members named gridDim and blockDim. Per host
// thread, like the fiber stacks, so that the execution half needs no lock of its own.
inline thread_local uint3 threadIdx{0, 0, 0};
inline thread_local uint3 blockIdx{0, 0, 0};
inline thread_local dim3 blockDim{1, 1, 1};
inline thread_local dim3 gridDim{1, 1, 1};

// ---- barriers and warp operations (the call site is captured for the reports) ----

inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  memloc_emulation::detail::block_barrier(memloc_emulation::detail::barrier_kind::plain, 0, file, line);
}
inline int __syncthreads_count(int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return memloc_emulation::detail::block_barrier(memloc_emulation::detail::barrier_kind::count, predicate, file, line);
}
inline int __syncthreads_and(int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return memloc_emulation::detail::block_barrier(memloc_emulation::detail::barrier_kind::all, predicate, file, line);
}
inline int __syncthreads_or(int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return memloc_emulation::detail::block_barrier(memloc_emulation::detail::barrier_kind::any, predicate, file, line);
}

inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  memloc_emulation::detail::warp_operation(memloc_emulation::detail::warp_kind::sync, mask, 0, 0, warpSize, file, line);
}

template <class T>
T __shfl_sync(unsigned mask, T var, int srcLane, int width = warpSize, const char* file = __builtin_FILE(),
              int line = __builtin_LINE()) {
  return memloc_emulation::detail::shuffle(memloc_emulation::detail::warp_kind::shfl_idx, mask, var, srcLane, width,
                                           file, line);
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize, const char* file = __builtin_FILE(),
                 int line = __builtin_LINE()) {
  return memloc_emulation::detail::shuffle(memloc_emulation::detail::warp_kind::shfl_up, mask, var,
                                           static_cast<int>(delta), width, file, line);
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize, const char* file = __builtin_FILE(),
                   int line = __builtin_LINE()) {
  return memloc_emulation::detail::shuffle(memloc_emulation::detail::warp_kind::shfl_down, mask, var,
                                           static_cast<int>(delta), width, file, line);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = warpSize, const char* file = __builtin_FILE(),
                  int line = __builtin_LINE()) {
  return memloc_emulation::detail::shuffle(memloc_emulation::detail::warp_kind::shfl_xor, mask, var, laneMask, width,
                                           file, line);
}

inline unsigned __ballot_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  return static_cast<unsigned>(memloc_emulation::detail::warp_operation(memloc_emulation::detail::warp_kind::ballot,
                                                                        mask, predicate != 0, 0, warpSize, file, line));
}
inline int __any_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return static_cast<int>(memloc_emulation::detail::warp_operation(memloc_emulation::detail::warp_kind::any, mask,
                                                                   predicate != 0, 0, warpSize, file, line));
}
inline int __all_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return static_cast<int>(memloc_emulation::detail::warp_operation(memloc_emulation::detail::warp_kind::all, mask,
                                                                   predicate != 0, 0, warpSize, file, line));
}
inline unsigned __activemask() { return memloc_emulation::detail::active_mask(); }

// ---- atomics: CUDA's overloads, no more, so a call nvcc rejects is rejected here too ----

#define MEMLOC_EMULATION_ATOMIC(name, type, expression)                                              \
  inline type name(type* address, type val) {                                                        \
    return memloc_emulation::detail::atomic_update(address, [val](type old) { return expression; }); \
  }
#define MEMLOC_EMULATION_ATOMIC_INTEGERS(name, expression) \
  MEMLOC_EMULATION_ATOMIC(name, int, expression)           \
  MEMLOC_EMULATION_ATOMIC(name, unsigned int, expression)  \
  MEMLOC_EMULATION_ATOMIC(name, unsigned long long int, expression)

MEMLOC_EMULATION_ATOMIC_INTEGERS(atomicAdd, old + val)
MEMLOC_EMULATION_ATOMIC(atomicAdd, float, old + val)
MEMLOC_EMULATION_ATOMIC(atomicAdd, double, old + val)
MEMLOC_EMULATION_ATOMIC(atomicSub, int, old - val)
MEMLOC_EMULATION_ATOMIC(atomicSub, unsigned int, old - val)
MEMLOC_EMULATION_ATOMIC_INTEGERS(atomicExch, ((void)old, val))
MEMLOC_EMULATION_ATOMIC(atomicExch, float, ((void)old, val))
MEMLOC_EMULATION_ATOMIC_INTEGERS(atomicMax, old < val ? val : old)
MEMLOC_EMULATION_ATOMIC(atomicMax, long long int, old < val ? val : old)
MEMLOC_EMULATION_ATOMIC_INTEGERS(atomicMin, val < old ? val : old)
MEMLOC_EMULATION_ATOMIC(atomicMin, long long int, val < old ? val : old)
MEMLOC_EMULATION_ATOMIC_INTEGERS(atomicOr, old | val)
MEMLOC_EMULATION_ATOMIC_INTEGERS(atomicAnd, old& val)
MEMLOC_EMULATION_ATOMIC_INTEGERS(atomicXor, old ^ val)
MEMLOC_EMULATION_ATOMIC(atomicInc, unsigned int, old >= val ? 0u : old + 1u)
MEMLOC_EMULATION_ATOMIC(atomicDec, unsigned int, (old == 0u || old > val) ? val : old - 1u)
#undef MEMLOC_EMULATION_ATOMIC_INTEGERS
#undef MEMLOC_EMULATION_ATOMIC

#define MEMLOC_EMULATION_ATOMIC_CAS(type)                                                           \
  inline type atomicCAS(type* address, type compare, type val) {                                    \
    memloc_emulation::detail::require_aligned(address);                                             \
    __atomic_compare_exchange_n(address, &compare, val, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
    return compare;                                                                                 \
  }
MEMLOC_EMULATION_ATOMIC_CAS(int)
MEMLOC_EMULATION_ATOMIC_CAS(unsigned int)
MEMLOC_EMULATION_ATOMIC_CAS(unsigned short int)
MEMLOC_EMULATION_ATOMIC_CAS(unsigned long long int)
#undef MEMLOC_EMULATION_ATOMIC_CAS

inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

template <class T>
T __ldg(const T* address) {
  return *address;
}

// ---- reinterpretation of bits ----

inline int __float_as_int(float x) {
  return memloc_emulation::detail::from_bits<int>(memloc_emulation::detail::to_bits(x));
}
inline unsigned int __float_as_uint(float x) {
  return memloc_emulation::detail::from_bits<unsigned int>(memloc_emulation::detail::to_bits(x));
}
inline float __int_as_float(int x) {
  return memloc_emulation::detail::from_bits<float>(memloc_emulation::detail::to_bits(x));
}
inline float __uint_as_float(unsigned int x) {
  return memloc_emulation::detail::from_bits<float>(memloc_emulation::detail::to_bits(x));
}
inline long long int __double_as_longlong(double x) {
  return memloc_emulation::detail::from_bits<long long int>(memloc_emulation::detail::to_bits(x));
}
inline double __longlong_as_double(long long int x) {
  return memloc_emulation::detail::from_bits<double>(memloc_emulation::detail::to_bits(x));
}

// ---- integer intrinsics (CUDA's results at 0, where the GCC built-ins are undefined) ----

inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long int x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned int>(x)); }
inline int __clzll(long long int x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long int x) { return __builtin_ffsll(x); }
inline unsigned int __brev(unsigned int x) {
  unsigned int reversed = 0;
  for (int bit = 0; bit < 32; ++bit, x >>= 1) reversed = (reversed << 1) | (x & 1u);
  return reversed;
}
inline unsigned long long int __brevll(unsigned long long int x) {
  return (static_cast<unsigned long long>(__brev(static_cast<unsigned int>(x))) << 32) |
         __brev(static_cast<unsigned int>(x >> 32));
}
