#pragma once

// memloc::mpi::all_reduce: merges the state of one host accumulator across the ranks of an
// MPI communicator, so that every rank can finalize the metric of the whole data set.
//
// Not part of memloc.hpp: it needs <mpi.h>, so only code that links MPI includes it.

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "alignment.hpp"
#include "classmem.hpp"
#include "core.hpp"
#include "unitmem.hpp"

namespace memloc::mpi {

namespace detail {

// (field name, value) pairs that must be equal on every rank before buffers are merged
// element-wise; a mismatch would silently mix unrelated state.
class signature {
 public:
  void add(std::string name, std::int64_t value) { fields_.emplace_back(std::move(name), value); }
  const std::vector<std::pair<std::string, std::int64_t>>& fields() const noexcept { return fields_; }

 private:
  std::vector<std::pair<std::string, std::int64_t>> fields_;
};

// Kept below 2^62 so that negating it (for the min) cannot overflow.
inline std::int64_t name_hash(const char* name) noexcept {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (const char* p = name; *p != '\0'; ++p) h = (h ^ static_cast<unsigned char>(*p)) * 1099511628211ull;
  return static_cast<std::int64_t>(h >> 2);
}

inline void add_common(signature& s, std::int64_t kind) {
  s.add("memloc version",
        std::int64_t{MEMLOC_VERSION_MAJOR} * 1000000 + std::int64_t{MEMLOC_VERSION_MINOR} * 1000 + MEMLOC_VERSION_PATCH);
  s.add("accumulator kind (1 unitmem, 2 classmem, 3 alignment)", kind);
}

// The fields unitmem_shape and classmem_shape share.
template <class Shape>
void add_layer_shape(signature& s, const Shape& shape) {
  s.add("shape().samples", shape.samples);
  s.add("shape().units", shape.units);
  s.add("shape().views", shape.views);
  s.add("shape().positions", shape.positions);
}

inline void describe(signature& s, const unitmem_accumulator<host_space>& a) {
  add_common(s, 1);
  add_layer_shape(s, a.shape());
  s.add("options().rest", static_cast<std::int64_t>(a.options().rest));
  s.add("options().transform", static_cast<std::int64_t>(a.options().transform));
  s.add("storage()", static_cast<std::int64_t>(a.storage()));
}

inline void describe(signature& s, const classmem_accumulator<host_space>& a) {
  add_common(s, 2);
  add_layer_shape(s, a.shape());
  s.add("shape().classes", a.shape().classes);
  s.add("options().transform", static_cast<std::int64_t>(a.options().transform));
}

inline void describe(signature& s, const alignment_accumulator<host_space>& a) {
  add_common(s, 3);
  s.add("shape().samples", a.shape().samples);
  s.add("shape().views", a.shape().views);
  s.add("shape().features", a.shape().features);
  s.add("options().distance", static_cast<std::int64_t>(a.options().distance));
  s.add("options().pairs", static_cast<std::int64_t>(a.options().pairs));
}

inline void describe_buffers(signature& s, const std::vector<state_buffer>& buffers) {
  s.add("state_buffers().size()", static_cast<std::int64_t>(buffers.size()));
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    const std::string prefix = "state_buffers()[" + std::to_string(i) + "].";
    s.add(prefix + "name", name_hash(buffers[i].name));
    s.add(prefix + "element", static_cast<std::int64_t>(buffers[i].element));
    s.add(prefix + "reduction", static_cast<std::int64_t>(buffers[i].reduction));
    s.add(prefix + "count", static_cast<std::int64_t>(buffers[i].count));
  }
}

inline void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  throw error(std::string("memloc::mpi::all_reduce: ") + call + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

// The default handler of a communicator aborts the job, which would leave no chance to
// report the failing call; errors return codes while all_reduce runs and the caller's
// handler is restored afterwards.
class errors_return_guard {
 public:
  explicit errors_return_guard(MPI_Comm comm) : comm_(comm) {
    check(MPI_Comm_get_errhandler(comm_, &previous_), "MPI_Comm_get_errhandler");
    const int code = MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    if (code != MPI_SUCCESS) {
      MPI_Errhandler_free(&previous_);
      check(code, "MPI_Comm_set_errhandler");
    }
  }
  ~errors_return_guard() {
    MPI_Comm_set_errhandler(comm_, previous_);
    MPI_Errhandler_free(&previous_);
  }
  errors_return_guard(const errors_return_guard&) = delete;
  errors_return_guard& operator=(const errors_return_guard&) = delete;

 private:
  MPI_Comm comm_;
  MPI_Errhandler previous_ = MPI_ERRHANDLER_NULL;
};

// Every rank computes the same min and max, so every rank throws the same message and no
// rank goes on to a collective the others skip.
inline void check_signature(const signature& s, MPI_Comm comm) {
  const auto& fields = s.fields();
  const std::size_t n = fields.size();
  // The field count itself comes first: ranks must agree on it before the arrays below
  // (whose length depends on it) are reduced.
  std::int64_t count[2] = {static_cast<std::int64_t>(n), -static_cast<std::int64_t>(n)};
  check(MPI_Allreduce(MPI_IN_PLACE, count, 2, MPI_INT64_T, MPI_MAX, comm), "MPI_Allreduce");
  const std::size_t max_n = static_cast<std::size_t>(count[0]);
  // max of (v, -v) gives max and -min in one collective; absent fields read as 0.
  std::vector<std::int64_t> values(2 * max_n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    values[i] = fields[i].second;
    values[max_n + i] = -fields[i].second;
  }
  check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_INT64_T, MPI_MAX, comm),
        "MPI_Allreduce");
  for (std::size_t i = 0; i < max_n; ++i) {
    const std::int64_t hi = values[i], lo = -values[max_n + i];
    if (hi != lo) {
      const std::string field = i < n ? fields[i].first : "signature length";
      throw logic_error("memloc::mpi::all_reduce: " + field + " must be equal on every rank, got values from " +
                        std::to_string(lo) + " to " + std::to_string(hi) + "; nothing was merged");
    }
  }
  if (count[0] != -count[1]) {
    throw logic_error("memloc::mpi::all_reduce: accumulators must be of the same kind on every rank; nothing was merged");
  }
}

inline MPI_Datatype datatype(state_element e) {
  switch (e) {
    case state_element::f64: return MPI_DOUBLE;
    case state_element::i64: return MPI_INT64_T;
    case state_element::u64: return MPI_UINT64_T;
    case state_element::i32: return MPI_INT32_T;
  }
  throw logic_error("memloc::mpi::all_reduce: invalid state_element");
}

inline std::size_t element_size(state_element e) {
  return e == state_element::i32 ? sizeof(std::int32_t) : sizeof(std::int64_t);
}

// MPI counts are int, so buffers longer than max_chunk elements go in pieces; max_chunk is
// a parameter only so that tests can exercise the split on small buffers.
inline void reduce_buffer(const state_buffer& b, MPI_Comm comm, std::size_t max_chunk) {
  const MPI_Op op = b.reduction == state_reduction::sum ? MPI_SUM : MPI_MAX;
  auto* bytes = static_cast<unsigned char*>(b.data);
  const std::size_t size = element_size(b.element);
  for (std::size_t first = 0; first < b.count; first += max_chunk) {
    const std::size_t n = std::min(max_chunk, b.count - first);
    check(MPI_Allreduce(MPI_IN_PLACE, bytes + first * size, static_cast<int>(n), datatype(b.element), op, comm),
          "MPI_Allreduce");
  }
}

template <class Accumulator>
void all_reduce(Accumulator& acc, MPI_Comm comm, std::size_t max_chunk) {
  if (comm == MPI_COMM_NULL) throw logic_error("memloc::mpi::all_reduce: comm must not be MPI_COMM_NULL");
  if (max_chunk == 0 || max_chunk > static_cast<std::size_t>(INT_MAX)) {
    throw logic_error("memloc::mpi::all_reduce: max_chunk must be in [1, INT_MAX]");
  }
  const std::vector<state_buffer> buffers = acc.state_buffers();
  signature s;
  describe(s, acc);
  describe_buffers(s, buffers);
  errors_return_guard guard(comm);
  check_signature(s, comm);
  for (const auto& b : buffers) reduce_buffer(b, comm, max_chunk);
}

}  // namespace detail

// Replaces acc's state, on every rank of comm, by the merge of all ranks' states; a
// collective, so every rank must call it with the same kind of accumulator. Throws
// memloc::logic_error on every rank, merging nothing, when the accumulators differ in
// shape, options or storage, and memloc::error when an MPI call fails. A sample folded on
// two ranks is not detected here but by finalize, which then throws.
template <class Accumulator>
void all_reduce(Accumulator& acc, MPI_Comm comm) {
  detail::all_reduce(acc, comm, static_cast<std::size_t>(INT_MAX));
}

}  // namespace memloc::mpi
