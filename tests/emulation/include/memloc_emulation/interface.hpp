#pragma once

// The seam between the two halves of memloc's CPU execution of CUDA code (test-only, never
// installed). The runtime half (streams, memory, copies, events, CUB) queues work and runs
// it at the synchronization points CUDA documents; the execution half (cooperative threads
// of a block, barriers, shuffles, block-shared memory, the checks inside a kernel) runs one
// grid when the runtime says so. Everything a kernel launch needs crosses here.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>  // the toolkit's declarations: cudaError_t, cudaStream_t, dim3

namespace memloc_emulation {

// A byte range of device memory a queued operation may touch.
struct region {
  const void* begin = nullptr;
  std::size_t bytes = 0;
  bool written = false;  // false: only read (as far as the argument types tell)
};

struct launch_description {
  std::string kernel;  // demangled name, for every report
  dim3 grid{1, 1, 1};
  dim3 block{1, 1, 1};
  std::size_t dynamic_shared_bytes = 0;
  std::vector<region> regions;  // device memory reachable from the arguments
};

// ---- provided by the runtime half (src/runtime.cpp) ----

// Queues `run` on `stream` (0 and cudaStreamLegacy: the legacy default stream,
// cudaStreamPerThread: the per-thread default stream) behind the stream's earlier work,
// honouring the legacy stream's implicit ordering. `run` is called later, with every device
// allocation readable and writable, at the first synchronization point that needs it.
cudaError_t enqueue_kernel(cudaStream_t stream, launch_description description, std::function<void()> run);

// The device allocation holding `address`, if any: its first byte and size.
bool find_device_allocation(const void* address, const void** base, std::size_t* bytes);

// The error cudaGetLastError and cudaPeekAtLastError report next (launch configuration
// errors are set by the launch itself, before anything is queued).
void set_last_error(cudaError_t error);

// ---- provided by the execution half (src/execution.cpp) ----

// Runs every block of one launch, the threads of a block as cooperative fibers; each thread
// calls `thread_body`. Returns when the grid is done. A check that fires calls fail().
void run_grid(const launch_description& description, const std::function<void()>& thread_body);

// Block-shared memory of the running block, for memloc's kernels/memloc/kernels/shared_memory.cuh
// (which declares plain __shared__ variables under nvcc). Static: one object per `key` (the
// address of a variable unique to the declaration) per block, laid out on first use; every
// thread of the block gets the same address. Dynamic: the launch's dynamic_shared_bytes.
// Both are filled with a poison pattern before each block runs.
void* block_static_shared(const void* key, std::size_t bytes, std::size_t alignment);
void* block_dynamic_shared();

// ---- shared by both (src/report.cpp) ----

// The seed of every random order the emulation takes (blocks, threads after a barrier):
// MEMLOC_EMULATION_SEED if set, otherwise one drawn at start-up; printed once on stderr so
// a failing run can be replayed.
std::uint64_t seed();

// Reports a misuse the emulation caught (a divergent barrier, a race, host access to device
// memory, ...): the message names what it can (kernel, block, thread, address) and says how
// to replay (the seed). By default it prints the report and aborts the process, so no test
// can swallow it; self-tests install a handler that records the report and unwinds instead.
[[noreturn]] void fail(const std::string& what);

using failure_handler = void (*)(const std::string& report);  // must not return (throw or abort)
failure_handler set_failure_handler(failure_handler handler);  // returns the previous one

}  // namespace memloc_emulation
