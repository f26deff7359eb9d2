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
#include "detail/state_signature.hpp"
#include "unitmem.hpp"

namespace memloc::mpi {

namespace mpi_detail {

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
inline void check_signature(const detail::state_signature& s, MPI_Comm comm) {
  const std::size_t n = s.fields().size();
  // The field count itself comes first: ranks must agree on it before the arrays below
  // (whose length depends on it) are reduced.
  std::int64_t count[2] = {static_cast<std::int64_t>(n), -static_cast<std::int64_t>(n)};
  check(MPI_Allreduce(MPI_IN_PLACE, count, 2, MPI_INT64_T, MPI_MAX, comm), "MPI_Allreduce");
  const std::size_t max_n = static_cast<std::size_t>(count[0]);
  // max of (v, -v) gives max and -min in one collective.
  std::vector<std::int64_t> values = detail::signature_max_input(s, max_n);
  check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_INT64_T, MPI_MAX, comm),
        "MPI_Allreduce");
  detail::check_state_signature("memloc::mpi::all_reduce", s, values, max_n, count[0] != -count[1]);
}

inline MPI_Datatype datatype(state_element e) {
  switch (e) {
    case state_element::f64: return MPI_DOUBLE;
    case state_element::i64: return MPI_INT64_T;
    case state_element::u64: return MPI_UINT64_T;
    case state_element::i32: return MPI_INT32_T;
    case state_element::f32: return MPI_FLOAT;
  }
  throw logic_error("memloc::mpi::all_reduce: invalid state_element");
}

// MPI counts are int, so buffers longer than max_chunk elements go in pieces; max_chunk is
// a parameter only so that tests can exercise the split on small buffers.
inline void reduce_buffer(const state_buffer& b, MPI_Comm comm, std::size_t max_chunk) {
  const MPI_Op op = b.reduction == state_reduction::sum ? MPI_SUM : MPI_MAX;
  auto* bytes = static_cast<unsigned char*>(b.data);
  const std::size_t size = state_element_bytes(b.element);
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
  const auto s = detail::state_signature_of(acc, buffers);
  errors_return_guard guard(comm);
  check_signature(s, comm);
  for (const auto& b : buffers) reduce_buffer(b, comm, max_chunk);
}

}  // namespace mpi_detail

// Replaces acc's state, on every rank of comm, by the merge of all ranks' states; a
// collective, so every rank must call it with the same kind of accumulator. Throws
// memloc::logic_error on every rank, merging nothing, when the accumulators differ in
// shape, options or storage, and memloc::error when an MPI call fails. A sample folded on
// two ranks is not detected here but by finalize, which then throws.
template <class Accumulator>
void all_reduce(Accumulator& acc, MPI_Comm comm) {
  mpi_detail::all_reduce(acc, comm, static_cast<std::size_t>(INT_MAX));
}

}  // namespace memloc::mpi
