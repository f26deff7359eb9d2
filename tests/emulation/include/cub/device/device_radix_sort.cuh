#pragma once

// CUB's device-wide radix sort for memloc's CPU execution of CUDA, shadowing CCCL's header
// (tests/emulation/include comes first on the include path). The contract is CUB's: a null
// d_temp_storage only reports the temporary storage size; otherwise the storage must be a
// live device allocation of at least that size, and a stable sort of the keys by their bits
// in [begin_bit, end_bit) is queued on the stream, reading and writing device memory when
// the stream runs it, like any kernel, so the emulation's ordering checks apply.

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "memloc_emulation/interface.hpp"

namespace cub {

namespace emulation_detail {

// The unsigned integer whose order is the key's order, as CUB's radix passes see it:
// floating point keys flip all bits when negative and the sign bit otherwise (so -0 sorts
// before +0 and NaNs sort by their bits), signed integers flip the sign bit.
template <class Key>
auto radix_bits(Key key) {
  static_assert(std::is_arithmetic_v<Key>, "the emulated DeviceRadixSort handles arithmetic keys");
  using bits_t = std::conditional_t<sizeof(Key) == 8, std::uint64_t,
                                    std::conditional_t<sizeof(Key) == 4, std::uint32_t,
                                                       std::conditional_t<sizeof(Key) == 2, std::uint16_t, std::uint8_t>>>;
  bits_t bits;
  std::memcpy(&bits, &key, sizeof bits);
  constexpr bits_t sign = bits_t(bits_t{1} << (8 * sizeof(bits_t) - 1));
  if constexpr (std::is_floating_point_v<Key>) {
    bits = (bits & sign) ? bits_t(~bits) : bits_t(bits | sign);
  } else if constexpr (std::is_signed_v<Key>) {
    bits = bits_t(bits ^ sign);
  }
  return bits;
}

template <class Key>
auto bit_range(Key key, int begin_bit, int end_bit) {
  auto bits = radix_bits(key);
  using bits_t = decltype(bits);
  constexpr int width = 8 * sizeof(bits_t);
  const bits_t upper = end_bit >= width ? bits_t(~bits_t{0}) : bits_t((bits_t{1} << end_bit) - 1);
  return bits_t((bits & upper) >> begin_bit);
}

// What the emulated sort asks for: CUB needs a double buffer of keys and values; asking for
// as much keeps code that sizes its buffers from CUB's answer honest about the order of
// magnitude, and it is never zero.
template <class Key, class Value>
std::size_t temporary_bytes(std::size_t items) {
  return items * (sizeof(Key) + sizeof(Value)) + 512;
}

inline bool holds(const void* pointer, std::size_t bytes) {
  const void* base = nullptr;
  std::size_t size = 0;
  if (!memloc_emulation::find_device_allocation(pointer, &base, &size)) return bytes == 0;
  return static_cast<std::size_t>(static_cast<const unsigned char*>(pointer) - static_cast<const unsigned char*>(base)) +
             bytes <=
         size;
}

// Value = void: keys only.
template <bool Descending, class Key, class Value, class Items>
cudaError_t sort(const char* call, void* temporary, std::size_t& temporary_size, const Key* keys_in, Key* keys_out,
                 const Value* values_in, Value* values_out, Items items_in, int begin_bit, int end_bit,
                 cudaStream_t stream) {
  using sized_value = std::conditional_t<std::is_void_v<Value>, char, Value>;  // sizeof(void) is not
  constexpr std::size_t value_bytes = std::is_void_v<Value> ? 0 : sizeof(sized_value);
  const std::size_t items = items_in > 0 ? static_cast<std::size_t>(items_in) : 0;
  if (temporary == nullptr) {
    temporary_size = temporary_bytes<Key, sized_value>(items);
    return cudaSuccess;
  }
  if (!holds(temporary, temporary_size) || temporary_size < temporary_bytes<Key, sized_value>(items) ||
      begin_bit < 0 || end_bit <= begin_bit || end_bit > int(8 * sizeof(Key))) {
    return cudaErrorInvalidValue;
  }
  if (items == 0) return cudaSuccess;
  const std::size_t key_bytes = items * sizeof(Key);
  const std::size_t values_bytes = items * value_bytes;
  const struct {
    const void* pointer;
    std::size_t bytes;
    const char* name;
  } arrays[] = {{keys_in, key_bytes, "d_keys_in"},
                {keys_out, key_bytes, "d_keys_out"},
                {values_in, values_bytes, "d_values_in"},
                {values_out, values_bytes, "d_values_out"}};
  for (const auto& array : arrays) {
    // On a GPU a host pointer or a short buffer here is an illegal address inside CUB.
    if (array.bytes > 0 && !holds(array.pointer, array.bytes)) {
      memloc_emulation::fail(std::string(call) + ": " + array.name + " is not " + std::to_string(array.bytes) +
                             " bytes of live device memory");
    }
  }
  memloc_emulation::launch_description description;
  description.kernel = call;
  description.regions = {{keys_in, key_bytes, false},
                         {keys_out, key_bytes, true},
                         {values_in, values_bytes, false},
                         {values_out, values_bytes, true},
                         {temporary, temporary_size, true}};
  auto run = [=] {
    std::vector<std::size_t> order(items);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const auto left = bit_range(keys_in[a], begin_bit, end_bit);
      const auto right = bit_range(keys_in[b], begin_bit, end_bit);
      return Descending ? right < left : left < right;
    });
    // Gathered first: the output may alias nothing CUB allows, but the input is read whole
    // before any output is written, as CUB's double buffering does.
    std::vector<Key> keys(items);
    for (std::size_t i = 0; i < items; ++i) keys[i] = keys_in[order[i]];
    if constexpr (!std::is_void_v<Value>) {
      std::vector<Value> values(items);
      for (std::size_t i = 0; i < items; ++i) values[i] = values_in[order[i]];
      std::copy(values.begin(), values.end(), values_out);
    }
    std::copy(keys.begin(), keys.end(), keys_out);
  };
  return memloc_emulation::enqueue_kernel(stream, std::move(description), std::move(run));
}

}  // namespace emulation_detail

struct DeviceRadixSort {
  template <class Key, class Value, class Items>
  static cudaError_t SortPairs(void* d_temp_storage, std::size_t& temp_storage_bytes, const Key* d_keys_in,
                               Key* d_keys_out, const Value* d_values_in, Value* d_values_out, Items num_items,
                               int begin_bit = 0, int end_bit = sizeof(Key) * 8, cudaStream_t stream = 0) {
    return emulation_detail::sort<false>("cub::DeviceRadixSort::SortPairs", d_temp_storage, temp_storage_bytes,
                                         d_keys_in, d_keys_out, d_values_in, d_values_out, num_items, begin_bit,
                                         end_bit, stream);
  }

  template <class Key, class Value, class Items>
  static cudaError_t SortPairsDescending(void* d_temp_storage, std::size_t& temp_storage_bytes, const Key* d_keys_in,
                                         Key* d_keys_out, const Value* d_values_in, Value* d_values_out,
                                         Items num_items, int begin_bit = 0, int end_bit = sizeof(Key) * 8,
                                         cudaStream_t stream = 0) {
    return emulation_detail::sort<true>("cub::DeviceRadixSort::SortPairsDescending", d_temp_storage,
                                        temp_storage_bytes, d_keys_in, d_keys_out, d_values_in, d_values_out,
                                        num_items, begin_bit, end_bit, stream);
  }

  template <class Key, class Items>
  static cudaError_t SortKeys(void* d_temp_storage, std::size_t& temp_storage_bytes, const Key* d_keys_in,
                              Key* d_keys_out, Items num_items, int begin_bit = 0, int end_bit = sizeof(Key) * 8,
                              cudaStream_t stream = 0) {
    return emulation_detail::sort<false, Key, void>("cub::DeviceRadixSort::SortKeys", d_temp_storage,
                                                    temp_storage_bytes, d_keys_in, d_keys_out, nullptr, nullptr,
                                                    num_items, begin_bit, end_bit, stream);
  }

  template <class Key, class Items>
  static cudaError_t SortKeysDescending(void* d_temp_storage, std::size_t& temp_storage_bytes, const Key* d_keys_in,
                                        Key* d_keys_out, Items num_items, int begin_bit = 0,
                                        int end_bit = sizeof(Key) * 8, cudaStream_t stream = 0) {
    return emulation_detail::sort<true, Key, void>("cub::DeviceRadixSort::SortKeysDescending", d_temp_storage,
                                                   temp_storage_bytes, d_keys_in, d_keys_out, nullptr, nullptr,
                                                   num_items, begin_bit, end_bit, stream);
  }
};

}  // namespace cub
