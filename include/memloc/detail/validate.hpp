#pragma once

// Argument checks shared by every public entry point. Each failure throws
// memloc::logic_error with a message of the form
//   "<function>: <argument> <what> must be <expected>, got <actual>".

#include <array>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <type_traits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../exec.hpp"
#include "../options.hpp"
#include "../view.hpp"
#include "formulas.hpp"
#include "test_hooks.hpp"

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
  index_t size = 1;
  for (std::size_t r = 0; r < Rank; ++r) {
    if (view.extent(r) < 0) fail(function, argument, " extent(", r, ") must be >= 0, got ", view.extent(r));
    if (view.stride(r) < 0) fail(function, argument, " stride(", r, ") must be >= 0, got ", view.stride(r));
    if (__builtin_mul_overflow(size, view.extent(r), &size)) {
      fail(function, argument, " element count (product of extents) must fit in int64, got an overflow in dimension ", r);
    }
  }
  if (size == 0) return;
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

// A one-shot input must be a usable view with at least minimum[r] elements along each
// dimension r; the message names the dimension's meaning.
template <class T, std::size_t Rank, class Space>
void check_minimum_extents(const char* function, const char* argument, const strided_view<T, Rank, Space>& view,
                           const std::array<index_t, Rank>& minimum, const std::array<const char*, Rank>& meaning) {
  check_view(function, argument, view);
  for (std::size_t r = 0; r < Rank; ++r) {
    if (view.extent(r) < minimum[r]) {
      fail(function, argument, " extent(", r, ") (", meaning[r], ") must be >= ", minimum[r], ", got ", view.extent(r));
    }
  }
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

template <class Enum, class = std::enable_if_t<std::is_enum_v<Enum>>>
void check_same(const char* function, const char* what, Enum mine, Enum theirs) {
  if (mine != theirs) fail(function, "other.", what, " must be ", to_string(mine), ", got ", to_string(theirs));
}

inline void check_not_self(const char* function, const void* self, const void* other) {
  if (self == other) fail(function, "other must be a different accumulator, got this one (a merge with itself would fold every sample twice)");
}

// a * b must stay within `limit`, so that buffers and index arithmetic sized by it fit.
inline void check_product(const char* function, const char* what, index_t a, index_t b, index_t limit) {
  index_t product = 0;
  if (__builtin_mul_overflow(a, b, &product) || product > limit) {
    fail(function, what, " must be at most ", limit, ", got ", a, " * ", b);
  }
}

// The largest element count memloc sizes a buffer or an index by: far beyond any memory,
// and far from int64 overflow in the sums of offsets built from it.
inline constexpr index_t max_elements = index_t{1} << 48;

// Outputs are written independently, so two that share memory would overwrite each other.
struct output_range {
  const char* name;
  const void* data;
  index_t extent;
  index_t stride;
  std::size_t element_size;
};

// Whether two outputs write a common byte. Exact when both have the same element size and
// stride (interleaved columns of one buffer do not share memory); otherwise two outputs
// whose spans overlap are taken to share memory.
inline bool outputs_overlap(const output_range& a, const output_range& b) {
  const auto a0 = reinterpret_cast<std::uintptr_t>(a.data);
  const auto b0 = reinterpret_cast<std::uintptr_t>(b.data);
  const auto a1 = a0 + static_cast<std::uintptr_t>((a.extent - 1) * a.stride + 1) * a.element_size;
  const auto b1 = b0 + static_cast<std::uintptr_t>((b.extent - 1) * b.stride + 1) * b.element_size;
  if (!(a0 < b1 && b0 < a1)) return false;
  if (a.element_size != b.element_size || a.stride != b.stride || a.stride <= 1) return true;
  const std::uintptr_t distance = a0 > b0 ? a0 - b0 : b0 - a0;
  const std::uintptr_t pitch = static_cast<std::uintptr_t>(a.stride) * a.element_size;
  const std::uintptr_t phase = distance % pitch;
  // Elements of one start `phase` bytes into the other's pitch: disjoint unless the
  // element ranges [0, size) and [phase, phase + size) meet modulo the pitch.
  return phase < a.element_size || pitch - phase < a.element_size;
}

template <class Outputs>
void check_outputs_disjoint(const char* function, const Outputs& outputs) {
  for (auto a = outputs.begin(); a != outputs.end(); ++a) {
    if (a->data == nullptr || a->extent == 0) continue;
    for (auto b = a + 1; b != outputs.end(); ++b) {
      if (b->data == nullptr || b->extent == 0) continue;
      if (outputs_overlap(*a, *b)) fail(function, a->name, " and ", b->name, " must not share memory, got overlapping buffers");
    }
  }
}
inline void check_outputs_disjoint(const char* function, std::initializer_list<output_range> outputs) {
  check_outputs_disjoint<std::initializer_list<output_range>>(function, outputs);
}

template <class T, class Space>
output_range range_of(const char* name, const vector_view<T, Space>& v) {
  return {name, v.data_handle(), v.extent(0), v.stride(0), sizeof(T)};
}

// Sample ids index fixed-size state, and the packed argmax key keeps 32 bits of id with
// 0xFFFFFFFF reserved, hence the upper bound on the id space.
inline constexpr index_t max_samples = static_cast<index_t>(std::numeric_limits<std::uint32_t>::max()) - 1;

inline void check_sample_space(const char* function, index_t samples) {
  if (samples <= 0 || samples > max_samples) {
    fail(function, "samples (size of the id space) must be in [1, ", max_samples, "], got ", samples);
  }
}

inline void check_exec(const char* function, const host_exec& exec) {
  if (exec.threads < 0) fail(function, "exec.threads must be >= 0 (0 leaves the count to OpenMP), got ", exec.threads);
}

// The number of the next update call of a device accumulator. The device orders its reports
// of bad rows by this number (detail::bad_row_key), which has room for max_keyed_batch
// updates between resets; one more is refused, leaving the state as it was.
inline long long next_batch_number(const char* function, long long batches_so_far) {
  if (batches_so_far >= max_keyed_batch) {
    fail(function, "update calls since construction or reset must be at most ", max_keyed_batch, ", got ",
         batches_so_far + 1, " (reset the accumulator, or merge it into a fresh one)");
  }
  return batches_so_far + 1;
}

// Ids and labels may be any integer type (int64, long long, int32, ...).
template <class I>
inline constexpr bool is_index_element_v = std::is_integral_v<std::remove_const_t<I>> &&
                                           !std::is_same_v<std::remove_const_t<I>, bool>;

// Every id in [0, bound).
template <class IdView>
void check_index_values(const char* function, const char* argument, const IdView& ids, index_t bound) {
  for (index_t i = 0; i < ids.extent(0); ++i) {
    const auto value = ids(i);
    if (value < 0 || static_cast<std::uint64_t>(value) >= static_cast<std::uint64_t>(bound)) {
      // Printed through the widest integer of its signedness (and never as a character).
      if constexpr (std::is_signed_v<std::remove_const_t<decltype(value)>>) {
        fail(function, argument, "(", i, ") must be in [0, ", bound, "), got ", static_cast<long long>(value));
      } else {
        fail(function, argument, "(", i, ") must be in [0, ", bound, "), got ", static_cast<unsigned long long>(value));
      }
    }
  }
}

template <class IdView>
void check_indices(const char* function, const char* argument, const char* meaning, const IdView& ids,
                   index_t batch_samples, index_t bound) {
  check_view(function, argument, ids);
  check_extent(function, argument, 0, meaning, batch_samples, ids.extent(0));
  check_index_values(function, argument, ids, bound);
}

template <class IdView>
void check_ids(const char* function, const IdView& ids, index_t batch_samples, index_t id_space) {
  test_hooks::count(test_hooks::sample_id_checks);
  check_indices(function, "sample_ids", "one id per batch sample", ids, batch_samples, id_space);
}

template <class LabelView>
void check_labels(const char* function, const LabelView& labels, index_t batch_samples, index_t classes) {
  check_indices(function, "labels", "one label per batch sample", labels, batch_samples, classes);
}

template <class Enum>
void check_enum(const char* function, const char* argument, Enum value, Enum last) {
  const auto v = static_cast<long long>(value);
  if (v < 0 || v > static_cast<long long>(last)) {
    fail(function, argument, " must be a named enumerator in [0, ", static_cast<long long>(last), "], got ", v);
  }
}

}  // namespace memloc::detail
