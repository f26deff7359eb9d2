#pragma once

// memloc::nccl::all_reduce: merges the state of one accumulator, host or device, across the
// ranks of an NCCL communicator on the caller's stream, the counterpart of memloc/mpi.hpp
// for GPU jobs. The same compatibility check runs first (detail/state_signature.hpp): every
// rank throws the same memloc::logic_error, merging nothing, when shapes, options or storage
// differ. Then each buffer is reduced in place: ncclSum for sums and counts, ncclMax for the
// packed (value, sample id) keys. Device accumulators' buffers are device memory already;
// this header does not stage host buffers, so it takes device accumulators only.
//
// Not part of memloc.cuh: it needs <nccl.h>, so only code that links NCCL includes it.

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cuda_exec.cuh"
#include "detail/cuda/runtime.cuh"
#include "detail/state_signature.hpp"
#include "state.hpp"

namespace memloc::nccl {

namespace nccl_detail {

inline void check(ncclResult_t result, const char* call) {
  if (result == ncclSuccess) return;
  throw error(std::string("memloc::nccl::all_reduce: ") + call + " failed: " + ncclGetErrorString(result));
}

inline ncclDataType_t datatype(state_element e) {
  switch (e) {
    case state_element::f64: return ncclFloat64;
    case state_element::i64: return ncclInt64;
    case state_element::u64: return ncclUint64;
    case state_element::i32: return ncclInt32;
    case state_element::f32: return ncclFloat32;
  }
  throw logic_error("memloc::nccl::all_reduce: invalid state_element");
}

// One MAX all-reduce of int64 values through device memory, waiting for the result: the
// signature check must finish on the host before any buffer is touched.
inline void max_on_host(std::vector<std::int64_t>& values, ncclComm_t comm, cudaStream_t stream) {
  constexpr const char* fn = "memloc::nccl::all_reduce";
  detail::cuda::device_array<std::int64_t> device(static_cast<index_t>(values.size()), fn);
  detail::cuda::check(cudaMemcpyAsync(device.data(), values.data(), device.bytes(), cudaMemcpyHostToDevice, stream), fn,
                              "cudaMemcpyAsync");
  check(ncclAllReduce(device.data(), device.data(), values.size(), ncclInt64, ncclMax, comm, stream), "ncclAllReduce");
  detail::cuda::copy_to_host(values.data(), device.data(), device.bytes(), stream, fn);
}

}  // namespace nccl_detail

// Replaces acc's state, on every rank of comm, by the merge of all ranks' states, enqueued
// on exec.stream. A collective: every rank calls it with the same kind of accumulator.
template <class Accumulator>
void all_reduce(const cuda_exec& exec, Accumulator& acc, ncclComm_t comm) {
  if (comm == nullptr) throw logic_error("memloc::nccl::all_reduce: comm must not be null");
  const std::vector<state_buffer> buffers = acc.state_buffers();
  const auto signature = detail::state_signature_of(acc, buffers);
  const auto n = static_cast<std::int64_t>(signature.fields().size());
  std::vector<std::int64_t> count{n, -n};
  nccl_detail::max_on_host(count, comm, exec.stream);
  const auto max_n = static_cast<std::size_t>(count[0]);
  std::vector<std::int64_t> values = detail::signature_max_input(signature, max_n);
  nccl_detail::max_on_host(values, comm, exec.stream);
  detail::check_state_signature("memloc::nccl::all_reduce", signature, values, max_n, count[0] != -count[1]);
  for (const auto& b : buffers) {
    nccl_detail::check(ncclAllReduce(b.data, b.data, b.count, nccl_detail::datatype(b.element),
                                     b.reduction == state_reduction::sum ? ncclSum : ncclMax, comm, exec.stream),
                       "ncclAllReduce");
  }
}

}  // namespace memloc::nccl
