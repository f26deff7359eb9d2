#pragma once

#include <cstddef>
#include <cstdint>

namespace memloc {

// Element type of one state buffer, enough for a collective library to pick its datatype.
enum class state_element { f64, i64, u64, i32, f32 };

// The element-wise operation that merges two copies of one state buffer. Every
// accumulator's state is a handful of such buffers, so merging ranks of a data-parallel job
// is one all-reduce per buffer with the matching MPI/NCCL operation (both offer SUM and MAX
// on these types).
enum class state_reduction {
  sum,  // fp64 sums, fp32 μ (one addend per element), int64 view counts, int32 per-sample fold counts
  max,  // packed (value, sample id) keys
};

// Bytes of one element, for a collective that moves a buffer as raw memory.
constexpr std::size_t state_element_bytes(state_element e) noexcept {
  return e == state_element::i32 || e == state_element::f32 ? 4 : 8;
}

struct state_buffer {
  const char* name;
  void* data;
  std::size_t count;  // elements, not bytes
  state_element element;
  state_reduction reduction;
};

}  // namespace memloc
