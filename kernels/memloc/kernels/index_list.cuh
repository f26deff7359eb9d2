#pragma once

// Sample ids and labels as kernels read them: a strided device vector of any integer type,
// read by its width and signedness. Kernels are then compiled once per element type and
// operation, not once more per id and label type.

#include <cstdint>
#include <type_traits>

namespace memloc::kernels {

enum class index_width : int { i8, u8, i16, u16, i32, u32, i64, u64 };

template <class I>
constexpr index_width index_width_of() {
  constexpr bool is_signed = std::is_signed_v<I>;
  if constexpr (sizeof(I) == 1) return is_signed ? index_width::i8 : index_width::u8;
  if constexpr (sizeof(I) == 2) return is_signed ? index_width::i16 : index_width::u16;
  if constexpr (sizeof(I) == 4) return is_signed ? index_width::i32 : index_width::u32;
  return is_signed ? index_width::i64 : index_width::u64;
}

struct index_list {
  // Read only, as a view of const elements says: the emulated CUDA build's check of streams
  // used without ordering counts the memory of arguments without this as written.
  using element_type = const void;

  const void* data;  // null: no list (a batch without labels)
  std::int64_t stride;
  index_width width;

  template <class I>
  static index_list of(const I* data, std::int64_t stride) {
    static_assert(sizeof(I) <= 8, "sample ids and labels must be at most 64-bit integers");
    return {data, stride, index_width_of<std::remove_const_t<I>>()};
  }

  __device__ bool present() const { return data != nullptr; }

  // Element b as a 64-bit value; `negative` if a signed element is below 0 (value then undefined).
  __device__ unsigned long long get(std::int64_t b, bool& negative) const {
    const std::int64_t at = b * stride;
    negative = false;
    auto signed_value = [&](long long v) {
      negative = v < 0;
      return static_cast<unsigned long long>(v);
    };
    switch (width) {
      case index_width::i8: return signed_value(static_cast<const std::int8_t*>(data)[at]);
      case index_width::u8: return static_cast<const std::uint8_t*>(data)[at];
      case index_width::i16: return signed_value(static_cast<const std::int16_t*>(data)[at]);
      case index_width::u16: return static_cast<const std::uint16_t*>(data)[at];
      case index_width::i32: return signed_value(static_cast<const std::int32_t*>(data)[at]);
      case index_width::u32: return static_cast<const std::uint32_t*>(data)[at];
      case index_width::i64: return signed_value(static_cast<const std::int64_t*>(data)[at]);
      case index_width::u64: break;
    }
    return static_cast<const std::uint64_t*>(data)[at];
  }

  // Whether element b lies in [0, bound).
  __device__ bool in_range(std::int64_t b, std::int64_t bound) const {
    bool negative = false;
    const unsigned long long value = get(b, negative);
    return !negative && value < static_cast<unsigned long long>(bound);
  }

  // Element b, known to be in range, as an index.
  __device__ std::int64_t operator()(std::int64_t b) const {
    bool negative = false;
    return static_cast<std::int64_t>(get(b, negative));
  }

  __device__ bool is_unsigned() const {
    return width == index_width::u8 || width == index_width::u16 || width == index_width::u32 ||
           width == index_width::u64;
  }
};

}  // namespace memloc::kernels
