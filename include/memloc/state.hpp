#pragma once

#include <cstddef>
#include <cstdint>

namespace memloc {

// Element type of one state buffer, enough for a collective library to pick its datatype.
enum class state_element { f64, i64, u64 };

// The element-wise operation that merges two copies of one state buffer. Every
// accumulator's state is a handful of such buffers, so merging ranks of a data-parallel job
// is one all-reduce per buffer with the matching MPI/NCCL operation.
enum class state_reduction {
  sum,         // fp64 sums and int64 counts
  max,         // packed (value, sample id) keys
  bitwise_or,  // bitsets of seen sample ids
};

struct state_buffer {
  const char* name;
  void* data;
  std::size_t count;  // elements, not bytes
  state_element element;
  state_reduction reduction;
};

}  // namespace memloc
