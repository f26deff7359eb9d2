#pragma once

// Selects the CUDA backend. Every call enqueues its work on `stream` and keeps the order of
// that stream: update never waits for the device; calls that return host values
// (finalize's report, merge's checks) wait for the stream before they return.

#include <cuda_runtime_api.h>

namespace memloc {

struct cuda_exec {
  cudaStream_t stream = nullptr;  // the legacy default stream when null
};

}  // namespace memloc
