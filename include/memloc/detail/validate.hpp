#pragma once

// Argument checks shared by every public entry point. Each failure throws
// memloc::logic_error with a message of the form
//   "<function>: <argument> <what> must be <expected>, got <actual>".

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <utility>

#include "../error.hpp"
#include "../view.hpp"

namespace memloc::detail {

template <class... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}

template <class... Parts>
[[noreturn]] void fail(const char* function, Parts&&... parts) {
  throw logic_error(concat(function, ": ", std::forward<Parts>(parts)...));
}

// A view is usable when its extents and strides are non-negative, its pointer is set
// whenever it has elements, and its largest offset fits in int64.
template <class T, std::size_t Rank, class Space>
void check_view(const char* function, const char* argument, const strided_view<T, Rank, Space>& view) {
  index_t last_offset = 0;
  for (std::size_t r = 0; r < Rank; ++r) {
    if (view.extent(r) < 0) fail(function, argument, " extent(", r, ") must be >= 0, got ", view.extent(r));
    if (view.stride(r) < 0) fail(function, argument, " stride(", r, ") must be >= 0, got ", view.stride(r));
  }
  if (view.size() == 0) return;
  if (view.data_handle() == nullptr) fail(function, argument, " data_handle() must be non-null for ", view.size(), " elements, got nullptr");
  for (std::size_t r = 0; r < Rank; ++r) {
    index_t term = 0;
    if (__builtin_mul_overflow(view.extent(r) - 1, view.stride(r), &term) ||
        __builtin_add_overflow(last_offset, term, &last_offset)) {
      fail(function, argument, " largest element offset must fit in int64, got an overflow in dimension ", r);
    }
  }
}

inline void check_extent(const char* function, const char* argument, std::size_t dimension, const char* meaning,
                         index_t expected, index_t actual) {
  if (expected != actual) {
    fail(function, argument, " extent(", dimension, ") (", meaning, ") must be ", expected, ", got ", actual);
  }
}

inline void check_positive(const char* function, const char* argument, index_t value) {
  if (value <= 0) fail(function, argument, " must be > 0, got ", value);
}

inline void check_at_least(const char* function, const char* argument, index_t minimum, index_t value) {
  if (value < minimum) fail(function, argument, " must be >= ", minimum, ", got ", value);
}

// Optional outputs may be left empty (default-constructed); a given one must fit.
template <class T, class Space>
void check_optional_output(const char* function, const char* argument, const vector_view<T, Space>& out,
                           index_t expected) {
  if (out.data_handle() == nullptr && out.extent(0) == 0) return;
  check_view(function, argument, out);
  check_extent(function, argument, 0, "elements", expected, out.extent(0));
}

template <class T, class Space>
void check_output(const char* function, const char* argument, const vector_view<T, Space>& out, index_t expected) {
  check_view(function, argument, out);
  check_extent(function, argument, 0, "elements", expected, out.extent(0));
}

template <class T, class Space>
bool is_given(const vector_view<T, Space>& out) {
  return out.data_handle() != nullptr;
}

// A per-unit output that the finalize kernels write as a contiguous array.
template <class T, class Space>
void check_unit_output(const char* function, const char* argument, const vector_view<T, Space>& out, index_t units,
                       bool required) {
  if (required) {
    check_output(function, argument, out, units);
  } else {
    check_optional_output(function, argument, out, units);
    if (!is_given(out)) return;
  }
  if (out.stride(0) != 1 && units > 1) fail(function, argument, " stride(0) must be 1, got ", out.stride(0));
}

// Accumulators merge only with one built with the same shape and options.
inline void check_same(const char* function, const char* what, index_t mine, index_t theirs) {
  if (mine != theirs) fail(function, "other.", what, " must be ", mine, ", got ", theirs);
}

// Sample ids index fixed-size state, and the packed argmax key keeps 32 bits of id with
// 0xFFFFFFFF reserved, hence the upper bound on the id space.
inline constexpr index_t max_samples = static_cast<index_t>(std::numeric_limits<std::uint32_t>::max()) - 1;

inline void check_sample_space(const char* function, index_t samples) {
  if (samples <= 0 || samples > max_samples) {
    fail(function, "samples (size of the id space) must be in [1, ", max_samples, "], got ", samples);
  }
}

template <class Space>
void check_ids(const char* function, const vector_view<const std::int64_t, Space>& ids, index_t batch_samples,
               index_t id_space) {
  check_view(function, "sample_ids", ids);
  check_extent(function, "sample_ids", 0, "one id per batch sample", batch_samples, ids.extent(0));
  for (index_t i = 0; i < ids.extent(0); ++i) {
    const std::int64_t id = ids(i);
    if (id < 0 || id >= id_space) fail(function, "sample_ids(", i, ") must be in [0, ", id_space, "), got ", id);
  }
}

template <class Space>
void check_labels(const char* function, const vector_view<const std::int64_t, Space>& labels, index_t batch_samples,
                  index_t classes) {
  check_view(function, "labels", labels);
  check_extent(function, "labels", 0, "one label per batch sample", batch_samples, labels.extent(0));
  for (index_t i = 0; i < labels.extent(0); ++i) {
    const std::int64_t label = labels(i);
    if (label < 0 || label >= classes) fail(function, "labels(", i, ") must be in [0, ", classes, "), got ", label);
  }
}

template <class Enum>
void check_enum(const char* function, const char* argument, Enum value, Enum last) {
  const auto v = static_cast<long long>(value);
  if (v < 0 || v > static_cast<long long>(last)) {
    fail(function, argument, " must be a named enumerator in [0, ", static_cast<long long>(last), "], got ", v);
  }
}

}  // namespace memloc::detail
