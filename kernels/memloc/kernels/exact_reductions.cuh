#pragma once

// Reductions whose result does not depend on the order of combination (integer maxima,
// flags), so that warps may combine them with atomics and still give the same answer in
// every run: minima and maxima of doubles go through order-preserving integer keys.

#include <cstdint>

#include "memloc/detail/formulas.hpp"
#include "memloc/kernels/common.cuh"

namespace memloc::kernels {

// Maximum over the 32 lanes of a warp; every lane of a full warp must call it.
template <class U>
__device__ inline U warp_max(U value) {
#pragma unroll
  for (int offset = warp_size / 2; offset > 0; offset /= 2) {
    const U other = __shfl_xor_sync(0xffffffffu, value, offset);
    value = other > value ? other : value;
  }
  return value;
}

// What the range and max normalisations need to know about a set of values. All zero is
// the empty set, so one memset starts it; the minimum is kept as the largest complement
// for the same reason.
struct set_statistics {
  unsigned long long min_complement;  // ~order_preserving_bits64(minimum over non-NaN values)
  unsigned long long max_bits;        // order_preserving_bits64(maximum over non-NaN values)
  unsigned int any_nan;
  unsigned int any_nonzero;
};

__host__ __device__ inline double minimum_of(const set_statistics& s) {
  return detail::value_from_order_preserving_bits64(~s.min_complement);
}

__host__ __device__ inline double maximum_of(const set_statistics& s) {
  return detail::value_from_order_preserving_bits64(s.max_bits);
}

// How the set is divided by `statistic` (its range or its maximum), under the shared policy.
__host__ __device__ inline detail::set_division division_of(const set_statistics& s, double statistic) {
  return detail::set_division_for(s.any_nan != 0, s.any_nonzero == 0, statistic);
}

// One thread's share of a set_statistics, merged into it by flush.
struct set_accumulator {
  unsigned long long min_complement = 0;
  unsigned long long max_bits = 0;
  unsigned int any_nan = 0;
  unsigned int any_nonzero = 0;

  __device__ void add(double value) {
    if (value != value) {
      any_nan = 1;
      return;
    }
    any_nonzero |= value != 0.0 ? 1u : 0u;
    const std::uint64_t bits = detail::order_preserving_bits64(value);
    if (~bits > min_complement) min_complement = ~bits;
    if (bits > max_bits) max_bits = bits;
  }

  // Every thread of full warps calls it; lane 0 of each warp merges the warp's share.
  __device__ void flush(set_statistics* into) {
    const unsigned long long low = warp_max(min_complement);
    const unsigned long long high = warp_max(max_bits);
    const unsigned int nan = warp_max(any_nan);
    const unsigned int nonzero = warp_max(any_nonzero);
    if (threadIdx.x % warp_size != 0) return;
    if (low != 0) atomicMax(&into->min_complement, low);
    if (high != 0) atomicMax(&into->max_bits, high);
    if (nan != 0) atomicOr(&into->any_nan, 1u);
    if (nonzero != 0) atomicOr(&into->any_nonzero, 1u);
  }
};

}  // namespace memloc::kernels
