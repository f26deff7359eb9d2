#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "types.hpp"

namespace memloc {

using index_t = std::int64_t;

// A non-owning strided view over a raw buffer, in the spirit of std::mdspan with a
// layout_stride mapping: extents and strides are counted in elements. Its memory space is
// part of its type, so host code cannot be handed device memory by mistake. memloc never
// copies or owns what a view points at.
template <class T, std::size_t Rank, class Space = host_space>
class strided_view {
 public:
  using element_type = T;
  using value_type = std::remove_const_t<T>;
  using memory_space = Space;
  static constexpr std::size_t rank = Rank;

  constexpr strided_view() = default;

  constexpr strided_view(T* data, const std::array<index_t, Rank>& extents,
                         const std::array<index_t, Rank>& strides) noexcept
      : data_(data) {
    for (std::size_t r = 0; r < Rank; ++r) {
      extents_[r] = extents[r];
      strides_[r] = strides[r];
    }
  }

  // Row-major (C order) contiguous view.
  constexpr strided_view(T* data, const std::array<index_t, Rank>& extents) noexcept
      : strided_view(data, extents, row_major_strides(extents)) {}

  // A view of T converts to a view of const T, as pointers do.
  template <class U, class = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
  constexpr strided_view(const strided_view<U, Rank, Space>& other) noexcept
      : strided_view(other.data_handle(), other.extents(), other.strides()) {}

  MEMLOC_HD constexpr T* data_handle() const noexcept { return data_; }
  MEMLOC_HD constexpr index_t extent(std::size_t r) const noexcept { return extents_[r]; }
  MEMLOC_HD constexpr index_t stride(std::size_t r) const noexcept { return strides_[r]; }
  constexpr std::array<index_t, Rank> extents() const noexcept { return to_array(extents_); }
  constexpr std::array<index_t, Rank> strides() const noexcept { return to_array(strides_); }

  MEMLOC_HD constexpr index_t size() const noexcept {
    index_t n = 1;
    for (std::size_t r = 0; r < Rank; ++r) n *= extents_[r];
    return n;
  }
  MEMLOC_HD constexpr bool empty() const noexcept { return size() == 0; }

  template <class... I>
  MEMLOC_HD constexpr index_t offset(I... indices) const noexcept {
    static_assert(sizeof...(I) == Rank, "one index per dimension");
    const index_t idx[] = {static_cast<index_t>(indices)...};
    index_t off = 0;
    for (std::size_t r = 0; r < Rank; ++r) off += idx[r] * strides_[r];
    return off;
  }

  // Element access; only meaningful where the view's memory is accessible.
  template <class... I>
  MEMLOC_HD constexpr T& operator()(I... indices) const noexcept {
    return data_[offset(indices...)];
  }

  static constexpr std::array<index_t, Rank> row_major_strides(const std::array<index_t, Rank>& extents) noexcept {
    std::array<index_t, Rank> strides{};
    index_t s = 1;
    for (std::size_t r = Rank; r-- > 0;) {
      strides[r] = s;
      s *= extents[r];
    }
    return strides;
  }

 private:
  static constexpr std::array<index_t, Rank> to_array(const index_t (&values)[Rank]) noexcept {
    std::array<index_t, Rank> out{};
    for (std::size_t r = 0; r < Rank; ++r) out[r] = values[r];
    return out;
  }

  // Plain arrays rather than std::array, whose operator[] is not callable from device code.
  T* data_ = nullptr;
  index_t extents_[Rank] = {};
  index_t strides_[Rank] = {};
};

// [samples, views, units, positions]: one layer's activations. Positions are the spatial
// elements of a conv map (H*W) or the tokens of a transformer; 1 for a dense layer.
template <class T, class Space = host_space>
using activations_view = strided_view<T, 4, Space>;

// [samples, views, features]: one encoder's representations at one measurement point.
template <class T, class Space = host_space>
using representations_view = strided_view<T, 3, Space>;

template <class T, class Space = host_space>
using matrix_view = strided_view<T, 2, Space>;

template <class T, class Space = host_space>
using vector_view = strided_view<T, 1, Space>;

// A contiguous vector, the most common output.
template <class Space = host_space, class T>
constexpr vector_view<T, Space> make_vector_view(T* data, index_t size) noexcept {
  return vector_view<T, Space>(data, {size});
}

}  // namespace memloc
