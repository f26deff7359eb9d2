#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__CUDACC__)
#define MEMLOC_HD __host__ __device__
#else
#define MEMLOC_HD
#endif

namespace memloc {

// Memory spaces tag views so that a host function can never be handed device memory by
// accident: the backend is chosen by the view's space and the exec argument together.
struct host_space {};
struct device_space {};
// Managed (unified) memory is readable from both sides, so both backends accept it.
struct managed_space {};

template <class Space>
inline constexpr bool host_accessible_v =
    std::is_same_v<Space, host_space> || std::is_same_v<Space, managed_space>;

template <class Space>
inline constexpr bool device_accessible_v =
    std::is_same_v<Space, device_space> || std::is_same_v<Space, managed_space>;

// 16-bit storage types. They carry only bits, so host code can hold fp16/bf16 buffers
// without CUDA headers; arithmetic always happens after conversion to float. The layout
// matches __half and __nv_bfloat16, so device code may reinterpret the same buffers.
struct half {
  std::uint16_t bits = 0;
};
struct bfloat16 {
  std::uint16_t bits = 0;
};
static_assert(sizeof(half) == 2 && sizeof(bfloat16) == 2, "16-bit storage types must be 2 bytes");

namespace detail {

MEMLOC_HD inline float float_from_bits(std::uint32_t u) noexcept {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

MEMLOC_HD inline std::uint32_t bits_from_float(float f) noexcept {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

}  // namespace detail

// Written with selects rather than a normalisation loop so that loops converting arrays of
// half still vectorise.
MEMLOC_HD inline float to_float(half h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h.bits & 0x8000u) << 16;
  const std::uint32_t exponent = h.bits & 0x7c00u;
  // Exponent and mantissa moved to float's positions; rebiasing the exponent by 127 - 15
  // gives every normal half, and by 255 - 31 maps the all-ones exponent to inf / NaN.
  const std::uint32_t magnitude = static_cast<std::uint32_t>(h.bits & 0x7fffu) << 13;
  const std::uint32_t rebiased = magnitude + ((exponent == 0x7c00u ? 224u : 112u) << 23);
  // Subnormal halves are mantissa * 2^-24, exact in float.
  const float subnormal = static_cast<float>(h.bits & 0x3ffu) * 0x1p-24f;
  const float value = exponent == 0 ? subnormal : detail::float_from_bits(rebiased);
  return detail::float_from_bits(detail::bits_from_float(value) | sign);
}

MEMLOC_HD inline float to_float(bfloat16 b) noexcept {
  return detail::float_from_bits(static_cast<std::uint32_t>(b.bits) << 16);
}

MEMLOC_HD inline float to_float(float f) noexcept { return f; }

// Round to nearest even, as hardware conversions do; NaN stays a quiet NaN.
MEMLOC_HD inline bfloat16 to_bfloat16(float f) noexcept {
  const std::uint32_t u = detail::bits_from_float(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bfloat16{static_cast<std::uint16_t>((u >> 16) | 0x40u)};
  const std::uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return bfloat16{static_cast<std::uint16_t>((u + rounding) >> 16)};
}

MEMLOC_HD inline half to_half(float f) noexcept {
  const std::uint32_t u = detail::bits_from_float(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t magnitude = u & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return half{static_cast<std::uint16_t>(sign | 0x7e00u)};
  if (magnitude >= 0x477ff000u) return half{static_cast<std::uint16_t>(sign | 0x7c00u)};  // overflow
  if (magnitude < 0x38800000u) {
    // Result is subnormal or zero: shift the implicit-one mantissa into place, rounding to even.
    if (magnitude < 0x33000000u) return half{sign};
    const std::uint32_t exponent = magnitude >> 23;
    const std::uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - exponent;  // 14 .. 24
    std::uint32_t result = mantissa >> shift;
    const std::uint32_t remainder = mantissa & ((1u << shift) - 1u);
    const std::uint32_t halfway = 1u << (shift - 1u);
    if (remainder > halfway || (remainder == halfway && (result & 1u))) ++result;
    return half{static_cast<std::uint16_t>(sign | result)};
  }
  std::uint32_t result = ((magnitude >> 13) - (112u << 10));
  const std::uint32_t remainder = magnitude & 0x1fffu;
  if (remainder > 0x1000u || (remainder == 0x1000u && (result & 1u))) ++result;
  return half{static_cast<std::uint16_t>(sign | result)};
}

// The type reductions run in: fp64 for double inputs, fp32 for everything narrower.
template <class T>
using working_t = std::conditional_t<std::is_same_v<std::remove_const_t<T>, double>, double, float>;

// Converts a stored element to the working type W.
template <class W, class T>
MEMLOC_HD inline W load_as(T value) noexcept {
  if constexpr (std::is_same_v<T, half> || std::is_same_v<T, bfloat16>) {
    return static_cast<W>(to_float(value));
  } else {
    return static_cast<W>(value);
  }
}

template <class T>
inline constexpr bool is_supported_element_v =
    std::is_same_v<std::remove_const_t<T>, float> || std::is_same_v<std::remove_const_t<T>, double> ||
    std::is_same_v<std::remove_const_t<T>, half> || std::is_same_v<std::remove_const_t<T>, bfloat16>;

}  // namespace memloc
