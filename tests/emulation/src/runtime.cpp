// The runtime half of memloc's CPU execution of CUDA: streams as FIFOs of queued work that
// runs only at the synchronization points the CUDA runtime documents, the legacy default
// stream's implicit ordering, events, copies with CUDA's pageable/pinned rules, and a
// vector-clock record of what orders what, so that two streams touching one allocation
// without an event or a synchronization between them are reported even though the CPU
// happened to run them in a harmless order.
//
// The rules follow the CUDA Runtime API's "API synchronization behavior" and "Stream
// synchronization behavior" pages; each is quoted where it is implemented. Where CUDA
// allows a range of behaviours ("might be synchronous"), the emulation takes the one that
// exposes a missing synchronization: work is deferred as long as CUDA permits.
//
// One host thread is assumed (memloc's CUDA path issues work from one): no locking.
// Defining CUDA_API_PER_THREAD_DEFAULT_STREAM (the _ptsz/_ptds entry points) is not
// supported; cudaStreamPerThread as a handle is.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <unordered_set>

#include "memloc_emulation/interface.hpp"
#include "runtime_state.hpp"

namespace memloc_emulation::detail {

using vector_clock = std::vector<std::uint64_t>;

void merge_into(vector_clock& into, const vector_clock& from) {
  if (into.size() < from.size()) into.resize(from.size(), 0);
  for (std::size_t i = 0; i < from.size(); ++i) into[i] = std::max(into[i], from[i]);
}

struct stream_state;

struct operation {
  std::uint64_t id = 0;
  std::string description;
  std::function<void()> run;
  // Operations of other streams that must run first (event waits, legacy-stream order).
  std::vector<std::pair<stream_state*, std::uint64_t>> after;
};

struct stream_state {
  std::string name;
  unsigned flags = cudaStreamDefault;
  bool legacy = false;
  bool destroyed = false;
  std::size_t index = 0;  // its component in every vector clock
  std::deque<operation> queue;
  std::uint64_t last_id = 0;  // the last operation enqueued (0: none yet)
  vector_clock clock;         // that operation's clock
};

struct event_state {
  unsigned flags = cudaEventDefault;
  bool recorded = false;
  bool done = false;
  std::uint64_t generation = 0;  // a re-record supersedes a pending one
  stream_state* stream = nullptr;
  std::uint64_t op = 0;
  vector_clock clock;
  std::chrono::steady_clock::time_point when{};
};

}  // namespace memloc_emulation::detail

// The toolkit declares these opaque; here they are the emulation's own stream and event.
struct CUstream_st : memloc_emulation::detail::stream_state {};
struct CUevent_st : memloc_emulation::detail::event_state {};

namespace memloc_emulation::detail {
namespace {

thread_local cudaError_t last_error = cudaSuccess;

// Every failing call is remembered for cudaGetLastError, as the runtime does.
cudaError_t failed(cudaError_t error) {
  if (error != cudaSuccess) last_error = error;
  return error;
}

struct runtime_state {
  // Streams and events live until exit: a destroyed one may still have queued work
  // (cudaStreamDestroy and cudaEventDestroy return at once and release resources once the
  // work completes), and its address must not be reused by a new handle meanwhile.
  std::vector<std::unique_ptr<CUstream_st>> streams;
  std::vector<std::unique_ptr<CUevent_st>> events;
  std::unordered_set<const void*> live_events;
  std::uint64_t next_id = 1;
  std::uint64_t device_syncs = 0;
  vector_clock host;  // what the host has synchronized with: later enqueues come after it
  std::vector<std::pair<const unsigned char*, std::size_t>> pinned;  // cudaMallocHost blocks

  CUstream_st* make_stream(std::string name, unsigned flags, bool legacy) {
    streams.push_back(std::make_unique<CUstream_st>());
    CUstream_st* stream = streams.back().get();
    stream->name = std::move(name);
    stream->flags = flags;
    stream->legacy = legacy;
    stream->index = streams.size() - 1;
    return stream;
  }

  runtime_state() {
    make_stream("the legacy default stream", cudaStreamDefault, true);
    make_stream("the per-thread default stream", cudaStreamDefault, false);
  }
};

// Never destroyed: a static object of the program (a stream or buffer holder) may call the
// runtime from its destructor after ours would have run.
runtime_state& state() {
  static runtime_state* instance = new runtime_state;
  return *instance;
}

stream_state* resolve(cudaStream_t handle) {
  auto& all = state().streams;
  if (handle == nullptr || handle == cudaStreamLegacy) return all[0].get();
  if (handle == cudaStreamPerThread) return all[1].get();
  for (auto& stream : all) {
    if (stream.get() == handle) return stream->destroyed ? nullptr : stream.get();
  }
  return nullptr;
}

bool happened_before(const access& earlier, const vector_clock& later) {
  return earlier.stream_index < later.size() && earlier.tick <= later[earlier.stream_index];
}

std::string describe_range(const access& use, const allocation& block) {
  return "bytes [" + std::to_string(use.begin) + ", " + std::to_string(use.end) + ") of the " +
         std::to_string(block.bytes) + "-byte device allocation at " + hex(block.data);
}

// The accesses `regions` make, each clipped to its allocation; memory that is not a device
// allocation (a kernel argument may point anywhere) has no ordering to check.
std::vector<std::pair<allocation*, access>> accesses_of(const std::vector<region>& regions) {
  std::vector<std::pair<allocation*, access>> uses;
  for (const region& part : regions) {
    if (part.bytes == 0) continue;
    allocation* block = allocation_holding(part.begin);
    if (!block) continue;
    access use;
    use.begin = static_cast<std::size_t>(static_cast<const unsigned char*>(part.begin) - block->data);
    use.end = std::min(block->bytes, use.begin + part.bytes);
    use.written = part.written;
    uses.emplace_back(block, use);
  }
  return uses;
}

// Two operations of different streams conflict when their ranges overlap, one writes, and
// neither the stream order, an event wait, the legacy stream nor a host synchronization
// put the earlier one before the later one. Checked at enqueue time, when the clocks say
// what the program guarantees, not when the emulation happens to run them.
void check_conflicts(const std::vector<std::pair<allocation*, access>>& uses, const vector_clock& clock) {
  for (const auto& [block, use] : uses) {
    for (const access& earlier : block->accesses) {
      if (earlier.stream_index == use.stream_index || (!earlier.written && !use.written)) continue;
      if (earlier.end <= use.begin || use.end <= earlier.begin) continue;
      if (happened_before(earlier, clock)) continue;
      fail("device memory used from two streams without ordering: " + use.operation + " on " + use.stream +
           (use.written ? " writes " : " reads ") + describe_range(use, *block) + ", which " + earlier.operation +
           " on " + earlier.stream + (earlier.written ? " wrote" : " read") +
           " before it; nothing orders the two (record an event after the first and cudaStreamWaitEvent on it "
           "before the second, or synchronize the first stream before issuing the second)");
    }
  }
}

// An earlier access ordered before a later one that covers its range can be forgotten: any
// future conflict with it is also a conflict with the later one (happens-before is transitive).
void remember(const std::vector<std::pair<allocation*, access>>& uses, const vector_clock& clock) {
  for (const auto& [block, use] : uses) {
    auto& list = block->accesses;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const access& earlier) {
                                return happened_before(earlier, clock) && use.begin <= earlier.begin &&
                                       earlier.end <= use.end && (use.written || !earlier.written);
                              }),
               list.end());
    list.push_back(use);
  }
}

std::string stream_label(const stream_state& stream) {
  if (stream.legacy || stream.index == 1) return stream.name;
  return stream.name + " " + hex(&stream);
}

struct enqueued {
  std::uint64_t id = 0;
  vector_clock clock;
};

// Queues `run` on `stream` behind its earlier work. "The legacy default stream ... waits on
// all other blocking streams before it begins, and all blocking streams wait on it":
// an operation on the legacy stream comes after the last operation of every stream not
// created with cudaStreamNonBlocking, and one on such a stream after the legacy stream's
// last operation. Non-blocking streams are ordered with nothing but themselves.
enqueued enqueue(stream_state& stream, std::string description, const std::vector<region>& regions,
                 std::function<void()> run, const std::pair<stream_state*, std::uint64_t>* waited = nullptr,
                 const vector_clock* waited_clock = nullptr) {
  auto& rt = state();
  operation op;
  op.description = std::move(description);
  vector_clock clock = stream.clock;
  merge_into(clock, rt.host);
  auto order_after = [&](stream_state& other) {
    if (other.last_id == 0 || &other == &stream) return;
    // Already ordered (through the host, an event, or another stream): nothing to add. Keeps
    // legacy-stream operations cheap when many streams have come and gone.
    if (other.index < clock.size() && other.clock[other.index] <= clock[other.index]) return;
    op.after.emplace_back(&other, other.last_id);
    merge_into(clock, other.clock);
  };
  if (stream.legacy) {
    for (auto& other : rt.streams) {
      if (!(other->flags & cudaStreamNonBlocking)) order_after(*other);
    }
  } else if (!(stream.flags & cudaStreamNonBlocking)) {
    order_after(*rt.streams[0]);
  }
  if (waited) {
    op.after.push_back(*waited);
    merge_into(clock, *waited_clock);
  }
  if (clock.size() <= stream.index) clock.resize(stream.index + 1, 0);
  ++clock[stream.index];

  auto uses = accesses_of(regions);
  for (auto& entry : uses) {
    entry.second.stream_index = stream.index;
    entry.second.tick = clock[stream.index];
    entry.second.stream = stream_label(stream);
    entry.second.operation = op.description;
  }
  check_conflicts(uses, clock);  // before anything changes: a self-test's handler may throw
  remember(uses, clock);

  op.id = rt.next_id++;
  op.run = std::move(run);
  stream.last_id = op.id;
  stream.clock = clock;
  stream.queue.push_back(std::move(op));
  return {stream.last_id, std::move(clock)};
}

// Runs `stream`'s queue up to and including operation `id`, each operation after whatever
// it waits on in other streams.
void run_through(stream_state& stream, std::uint64_t id) {
  while (!stream.queue.empty() && stream.queue.front().id <= id) {
    operation op = std::move(stream.queue.front());
    stream.queue.pop_front();
    for (auto& [other, other_id] : op.after) run_through(*other, other_id);
    device_access reachable(op.description);
    op.run();
  }
}

void host_waited_for(const vector_clock& clock) { merge_into(state().host, clock); }

void synchronize_stream(stream_state& stream) {
  run_through(stream, stream.last_id);
  host_waited_for(stream.clock);
}

// cudaDeviceSynchronize "blocks until the device has completed all preceding requested
// tasks". The streams' operations interleave in a seeded random order (any order their
// dependencies allow could be the GPU's), so a hidden cross-stream dependency shows up as
// a different result under another seed even where the clocks cannot see it.
void synchronize_device() {
  auto& rt = state();
  std::mt19937_64 order(seed() ^ (0x9E3779B97F4A7C15ULL * ++rt.device_syncs));
  for (;;) {
    std::vector<stream_state*> pending;
    for (auto& stream : rt.streams) {
      if (!stream->queue.empty()) pending.push_back(stream.get());
    }
    if (pending.empty()) break;
    stream_state& next = *pending[order() % pending.size()];
    run_through(next, next.queue.front().id);
  }
  for (auto& stream : rt.streams) host_waited_for(stream->clock);
}

bool finished(const stream_state& stream, std::uint64_t id) {
  return stream.queue.empty() || stream.queue.front().id > id;
}

// ---- memory spaces ----

enum class space { device, pinned, pageable };

const char* space_name(space where) {
  return where == space::device ? "device" : where == space::pinned ? "pinned host" : "pageable host";
}

bool is_pinned(const void* address, std::size_t bytes) {
  const auto* byte = static_cast<const unsigned char*>(address);
  for (const auto& [base, size] : state().pinned) {
    if (byte >= base && byte + bytes <= base + size) return true;
  }
  return false;
}

// Where `bytes` bytes at `address` live; false when they start in a device allocation but
// run past its end (CUDA: cudaErrorInvalidValue).
bool locate(const void* address, std::size_t bytes, space& where) {
  if (allocation* block = allocation_holding(address)) {
    where = space::device;
    return !block->pending_free &&
           static_cast<std::size_t>(static_cast<const unsigned char*>(address) - block->data) + bytes <= block->bytes;
  }
  where = is_pinned(address, bytes) ? space::pinned : space::pageable;
  return true;
}

bool kind_matches(cudaMemcpyKind kind, space from, space to) {
  const bool from_device = from == space::device;
  const bool to_device = to == space::device;
  switch (kind) {
    case cudaMemcpyHostToHost: return !from_device && !to_device;
    case cudaMemcpyHostToDevice: return !from_device && to_device;
    case cudaMemcpyDeviceToHost: return from_device && !to_device;
    case cudaMemcpyDeviceToDevice: return from_device && to_device;
    default: return true;  // cudaMemcpyDefault: inferred from the pointers
  }
}

cudaError_t copy(void* dst, const void* src, std::size_t count, cudaMemcpyKind kind, cudaStream_t handle,
                 bool asynchronous) {
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault) return failed(cudaErrorInvalidMemcpyDirection);
  stream_state* stream = resolve(handle);
  if (!stream) return failed(cudaErrorInvalidResourceHandle);
  if (count == 0) return cudaSuccess;
  if (!dst || !src) return failed(cudaErrorInvalidValue);
  space from{}, to{};
  if (!locate(src, count, from) || !locate(dst, count, to) || !kind_matches(kind, from, to)) {
    return failed(cudaErrorInvalidValue);
  }
  const char* call = asynchronous ? "cudaMemcpyAsync" : "cudaMemcpy";
  if (from != space::device && to != space::device) {
    // "For transfers from any host memory to any host memory, the function is fully
    // synchronous with respect to the host" — after the stream's earlier work.
    synchronize_stream(*stream);
    std::memmove(dst, src, count);
    return cudaSuccess;
  }
  const std::string description = std::string(call) + " of " + std::to_string(count) + " bytes from " +
                                  space_name(from) + " to " + space_name(to) + " memory";
  const std::vector<region> regions{{src, count, false}, {dst, count, true}};

  if (from == space::pageable) {
    // Pageable to device. cudaMemcpy: "a stream sync is performed before the copy is
    // initiated. The function will return once the pageable buffer has been copied to the
    // staging memory ... but the DMA to final destination may not have completed."
    // cudaMemcpyAsync: "If pageable memory must first be staged to pinned memory, the driver
    // may synchronize with the stream and stage the copy into pinned memory." Either way the
    // source is read now (the caller may reuse it at once) and the device write is queued.
    // The stream sync waits for what the copy itself would wait for (on the legacy stream,
    // every blocking stream's earlier work), hence a marker operation rather than the
    // stream's own queue alone.
    if (!asynchronous) {
      const enqueued barrier = enqueue(*stream, "cudaMemcpy's stream synchronization", {}, [] {});
      run_through(*stream, barrier.id);
      host_waited_for(barrier.clock);
    }
    auto staged = std::make_shared<std::vector<unsigned char>>(static_cast<const unsigned char*>(src),
                                                               static_cast<const unsigned char*>(src) + count);
    enqueue(*stream, description, regions, [dst, staged] { std::memcpy(dst, staged->data(), staged->size()); });
    return cudaSuccess;
  }
  const enqueued done = enqueue(*stream, description, regions, [dst, src, count] { std::memmove(dst, src, count); });
  // Device to pageable host memory: "the function returns only once the copy has completed"
  // (cudaMemcpy) and "might be synchronous" (cudaMemcpyAsync), which the emulation must be:
  // the data cannot wait in a staging buffer the host does not own. Blocking cudaMemcpy is
  // synchronous for pinned memory too ("for transfers from device to either pageable or
  // pinned host memory, the function returns only once the copy has completed"; "for
  // transfers from pinned host memory to device memory, the function is synchronous").
  // Device to device: "no host-side synchronization is performed". cudaMemcpyAsync with
  // pinned memory: "fully asynchronous" — a host that reads the destination before
  // synchronizing sees the old contents.
  const bool host_waits = to == space::pageable || (!asynchronous && !(from == space::device && to == space::device));
  if (host_waits) {
    run_through(*stream, done.id);
    host_waited_for(done.clock);
  }
  return cudaSuccess;
}

// "The cudaMemset functions are asynchronous with respect to the host except when the
// target memory is pinned host memory": device targets are queued, blocking or not.
cudaError_t set(void* dst, int value, std::size_t count, cudaStream_t handle, const char* call) {
  stream_state* stream = resolve(handle);
  if (!stream) return failed(cudaErrorInvalidResourceHandle);
  if (count == 0) return cudaSuccess;
  space where{};
  if (!dst || !locate(dst, count, where) || where != space::device) return failed(cudaErrorInvalidValue);
  enqueue(*stream, std::string(call) + " of " + std::to_string(count) + " bytes", {{dst, count, true}},
          [dst, value, count] { std::memset(dst, value, count); });
  return cudaSuccess;
}

event_state* resolve(cudaEvent_t handle) {
  return state().live_events.count(handle) ? static_cast<event_state*>(handle) : nullptr;
}

}  // namespace

}  // namespace memloc_emulation::detail

// ---- the seam ----

namespace memloc_emulation {

using namespace detail;

cudaError_t enqueue_kernel(cudaStream_t handle, launch_description description, std::function<void()> run) {
  stream_state* stream = resolve(handle);
  if (!stream) return failed(cudaErrorInvalidResourceHandle);
  const auto& g = description.grid;
  const auto& b = description.block;
  std::string name = "kernel " + description.kernel + "<<<(" + std::to_string(g.x) + "," + std::to_string(g.y) + "," +
                     std::to_string(g.z) + "), (" + std::to_string(b.x) + "," + std::to_string(b.y) + "," +
                     std::to_string(b.z) + ")>>>";
  enqueue(*stream, std::move(name), description.regions, std::move(run));
  return cudaSuccess;
}

bool find_device_allocation(const void* address, const void** base, std::size_t* bytes) {
  const allocation* block = allocation_holding(address);
  if (!block || block->pending_free) return false;
  if (base) *base = block->data;
  if (bytes) *bytes = block->bytes;
  return true;
}

void set_last_error(cudaError_t error) { last_error = error; }

}  // namespace memloc_emulation

// ---- the CUDA runtime API, as the toolkit's cuda_runtime_api.h declares it ----

extern "C" {

using namespace memloc_emulation::detail;

cudaError_t cudaGetLastError(void) {
  const cudaError_t error = last_error;
  last_error = cudaSuccess;
  return error;
}

cudaError_t cudaPeekAtLastError(void) { return last_error; }

// ---- device ----

namespace {
constexpr int emulated_multiprocessors = 4;
constexpr std::size_t emulated_global_memory = std::size_t{16} << 30;
}  // namespace

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return failed(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  if (!device) return failed(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : failed(cudaErrorInvalidDevice); }

// Limits of an sm_90 part (H100), so launch-shape code takes the paths it takes there.
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp* prop, int device) {
  if (!prop) return failed(cudaErrorInvalidValue);
  if (device != 0) return failed(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::strncpy(prop->name, "memloc emulated device (CPU)", sizeof prop->name - 1);
  prop->totalGlobalMem = emulated_global_memory;
  prop->sharedMemPerBlock = 48 * 1024;
  prop->sharedMemPerBlockOptin = 227 * 1024;
  prop->sharedMemPerMultiprocessor = 228 * 1024;
  prop->regsPerBlock = 65536;
  prop->regsPerMultiprocessor = 65536;
  prop->warpSize = 32;
  prop->memPitch = std::size_t{1} << 31;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024;
  prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647;
  prop->maxGridSize[1] = 65535;
  prop->maxGridSize[2] = 65535;
  prop->totalConstMem = 64 * 1024;
  prop->major = 9;
  prop->minor = 0;
  prop->textureAlignment = 512;
  prop->multiProcessorCount = emulated_multiprocessors;
  prop->maxThreadsPerMultiProcessor = 2048;
  prop->maxBlocksPerMultiProcessor = 32;
  prop->l2CacheSize = 50 * 1024 * 1024;
  prop->memoryBusWidth = 5120;
  prop->concurrentKernels = 1;
  prop->asyncEngineCount = 2;
  prop->unifiedAddressing = 1;
  prop->canMapHostMemory = 1;
  prop->managedMemory = 1;
  prop->concurrentManagedAccess = 1;
  prop->cooperativeLaunch = 1;
  prop->streamPrioritiesSupported = 1;
  prop->globalL1CacheSupported = 1;
  prop->localL1CacheSupported = 1;
  prop->memoryPoolsSupported = 1;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, enum cudaDeviceAttr attr, int device) {
  if (!value) return failed(cudaErrorInvalidValue);
  cudaDeviceProp prop;
  if (const cudaError_t error = cudaGetDeviceProperties(&prop, device); error != cudaSuccess) return error;
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = prop.maxThreadsPerBlock; break;
    case cudaDevAttrMaxBlockDimX: *value = prop.maxThreadsDim[0]; break;
    case cudaDevAttrMaxBlockDimY: *value = prop.maxThreadsDim[1]; break;
    case cudaDevAttrMaxBlockDimZ: *value = prop.maxThreadsDim[2]; break;
    case cudaDevAttrMaxGridDimX: *value = prop.maxGridSize[0]; break;
    case cudaDevAttrMaxGridDimY: *value = prop.maxGridSize[1]; break;
    case cudaDevAttrMaxGridDimZ: *value = prop.maxGridSize[2]; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(prop.sharedMemPerBlock); break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = static_cast<int>(prop.sharedMemPerBlockOptin); break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *value = static_cast<int>(prop.sharedMemPerMultiprocessor); break;
    case cudaDevAttrWarpSize: *value = prop.warpSize; break;
    case cudaDevAttrMultiProcessorCount: *value = prop.multiProcessorCount; break;
    case cudaDevAttrComputeCapabilityMajor: *value = prop.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = prop.minor; break;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *value = prop.maxThreadsPerMultiProcessor; break;
    case cudaDevAttrMaxBlocksPerMultiprocessor: *value = prop.maxBlocksPerMultiProcessor; break;
    case cudaDevAttrMaxRegistersPerBlock: *value = prop.regsPerBlock; break;
    case cudaDevAttrL2CacheSize: *value = prop.l2CacheSize; break;
    case cudaDevAttrTotalConstantMemory: *value = static_cast<int>(prop.totalConstMem); break;
    case cudaDevAttrConcurrentKernels: *value = prop.concurrentKernels; break;
    case cudaDevAttrUnifiedAddressing: *value = prop.unifiedAddressing; break;
    case cudaDevAttrMemoryPoolsSupported: *value = prop.memoryPoolsSupported; break;
    // An attribute nobody asked the emulation for is refused rather than invented.
    default: return failed(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
  synchronize_device();
  return cudaSuccess;
}

// ---- errors ----

#define MEMLOC_EMULATION_ERRORS(X)                                                     \
  X(cudaSuccess, "no error")                                                           \
  X(cudaErrorInvalidValue, "invalid argument")                                         \
  X(cudaErrorMemoryAllocation, "out of memory")                                        \
  X(cudaErrorInitializationError, "initialization error")                              \
  X(cudaErrorInvalidConfiguration, "invalid configuration argument")                   \
  X(cudaErrorInvalidDevicePointer, "invalid device pointer")                           \
  X(cudaErrorInvalidMemcpyDirection, "invalid copy direction for memcpy")              \
  X(cudaErrorInvalidDeviceFunction, "invalid device function")                         \
  X(cudaErrorNoDevice, "no CUDA-capable device is detected")                           \
  X(cudaErrorInvalidDevice, "invalid device ordinal")                                  \
  X(cudaErrorInvalidResourceHandle, "invalid resource handle")                         \
  X(cudaErrorNotReady, "device not ready")                                             \
  X(cudaErrorIllegalAddress, "an illegal memory access was encountered")               \
  X(cudaErrorLaunchOutOfResources, "too many resources requested for launch")          \
  X(cudaErrorLaunchFailure, "unspecified launch failure")                              \
  X(cudaErrorNotSupported, "operation not supported")                                  \
  X(cudaErrorNotPermitted, "operation not permitted")                                  \
  X(cudaErrorMissingConfiguration, "__global__ function call is not configured")       \
  X(cudaErrorLaunchTimeout, "the launch timed out and was terminated")                 \
  X(cudaErrorAssert, "device-side assert triggered")                                   \
  X(cudaErrorMisalignedAddress, "misaligned address")                                  \
  X(cudaErrorIllegalInstruction, "an illegal instruction was encountered")             \
  X(cudaErrorInvalidSymbol, "invalid device symbol")                                   \
  X(cudaErrorInvalidPitchValue, "invalid pitch argument")                              \
  X(cudaErrorNoKernelImageForDevice, "no kernel image is available for execution on the device") \
  X(cudaErrorInsufficientDriver, "CUDA driver version is insufficient for CUDA runtime version") \
  X(cudaErrorCudartUnloading, "driver shutting down")                                  \
  X(cudaErrorUnknown, "unknown error")

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
#define MEMLOC_EMULATION_ERROR_NAME(code, text) \
  case code: return #code;
    MEMLOC_EMULATION_ERRORS(MEMLOC_EMULATION_ERROR_NAME)
#undef MEMLOC_EMULATION_ERROR_NAME
    default: return "unrecognized error code";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
#define MEMLOC_EMULATION_ERROR_STRING(code, text) \
  case code: return text;
    MEMLOC_EMULATION_ERRORS(MEMLOC_EMULATION_ERROR_STRING)
#undef MEMLOC_EMULATION_ERROR_STRING
    default: return "unrecognized error code";
  }
}

// ---- memory ----

cudaError_t cudaMalloc(void** pointer, size_t size) {
  if (!pointer) return failed(cudaErrorInvalidValue);
  *pointer = nullptr;
  if (size == 0) return cudaSuccess;  // CUDA hands out no memory and no error for 0 bytes
  allocation* block = allocate_device(size);
  if (!block) return failed(cudaErrorMemoryAllocation);
  *pointer = block->data;
  return cudaSuccess;
}

// Stream-ordered allocation: the memory belongs to `stream` from here on, recorded as a
// write by it, so another stream using it without ordering after this point is reported.
cudaError_t cudaMallocAsync(void** pointer, size_t size, cudaStream_t handle) {
  stream_state* stream = resolve(handle);
  if (!stream) return failed(cudaErrorInvalidResourceHandle);
  if (const cudaError_t error = cudaMalloc(pointer, size); error != cudaSuccess || size == 0) return error;
  enqueue(*stream, "cudaMallocAsync of " + std::to_string(size) + " bytes", {{*pointer, size, true}}, [] {});
  return cudaSuccess;
}

// "cudaFree ... will implicitly synchronize the device" (when the memory may be in use):
// every queued operation runs first, including those that still need this allocation.
cudaError_t cudaFree(void* pointer) {
  if (!pointer) return cudaSuccess;
  allocation* block = allocation_holding(pointer);
  if (!block || block->data != pointer || block->pending_free) return failed(cudaErrorInvalidValue);
  synchronize_device();
  release_device(block);
  return cudaSuccess;
}

// Freed in stream order: a write to the whole allocation (so unordered use from another
// stream is reported), released when the stream reaches it.
cudaError_t cudaFreeAsync(void* pointer, cudaStream_t handle) {
  stream_state* stream = resolve(handle);
  if (!stream) return failed(cudaErrorInvalidResourceHandle);
  if (!pointer) return cudaSuccess;
  allocation* block = allocation_holding(pointer);
  if (!block || block->data != pointer || block->pending_free) return failed(cudaErrorInvalidValue);
  enqueue(*stream, "cudaFreeAsync of " + std::to_string(block->bytes) + " bytes", {{pointer, block->bytes, true}},
          [block] { release_device(block); });
  block->pending_free = true;
  return cudaSuccess;
}

// Pinned memory is ordinary host memory that the copy rules treat as DMA-able.
cudaError_t cudaHostAlloc(void** pointer, size_t size, unsigned int flags) {
  if (!pointer || flags > (cudaHostAllocPortable | cudaHostAllocMapped | cudaHostAllocWriteCombined)) {
    return failed(cudaErrorInvalidValue);
  }
  *pointer = nullptr;
  void* memory = nullptr;
  if (posix_memalign(&memory, 4096, size > 0 ? size : 1) != 0) return failed(cudaErrorMemoryAllocation);
  state().pinned.emplace_back(static_cast<const unsigned char*>(memory), size);
  *pointer = memory;
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** pointer, size_t size) { return cudaHostAlloc(pointer, size, cudaHostAllocDefault); }

// A pending asynchronous copy may still write the block: the device is synchronized first,
// as cudaFree does, rather than letting queued work write freed memory.
cudaError_t cudaFreeHost(void* pointer) {
  if (!pointer) return cudaSuccess;
  auto& pinned = state().pinned;
  const auto found = std::find_if(pinned.begin(), pinned.end(), [&](const auto& block) { return block.first == pointer; });
  if (found == pinned.end()) return failed(cudaErrorInvalidValue);
  synchronize_device();
  pinned.erase(found);
  std::free(pointer);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind) {
  return copy(dst, src, count, kind, cudaStreamLegacy, false);
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind, cudaStream_t stream) {
  return copy(dst, src, count, kind, stream, true);
}

cudaError_t cudaMemset(void* pointer, int value, size_t count) {
  return set(pointer, value, count, cudaStreamLegacy, "cudaMemset");
}

cudaError_t cudaMemsetAsync(void* pointer, int value, size_t count, cudaStream_t stream) {
  return set(pointer, value, count, stream, "cudaMemsetAsync");
}

cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes* attributes, const void* pointer) {
  if (!attributes) return failed(cudaErrorInvalidValue);
  *attributes = cudaPointerAttributes{};
  space where{};
  locate(pointer, 1, where);
  attributes->device = 0;
  if (where == space::device) {
    attributes->type = cudaMemoryTypeDevice;
    attributes->devicePointer = const_cast<void*>(pointer);
  } else if (where == space::pinned) {
    attributes->type = cudaMemoryTypeHost;
    attributes->devicePointer = const_cast<void*>(pointer);
    attributes->hostPointer = const_cast<void*>(pointer);
  } else {
    attributes->type = cudaMemoryTypeUnregistered;
  }
  return cudaSuccess;
}

// ---- streams ----

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* handle, unsigned int flags) {
  if (!handle || (flags & ~static_cast<unsigned>(cudaStreamNonBlocking))) return failed(cudaErrorInvalidValue);
  auto& rt = state();
  *handle = rt.make_stream("stream #" + std::to_string(rt.streams.size() - 1), flags, false);
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* handle) { return cudaStreamCreateWithFlags(handle, cudaStreamDefault); }

// "In case the device is still doing work in the stream when cudaStreamDestroy() is called,
// the function will return immediately and the resources ... released automatically once
// the device has completed all work": the queue stays, drained by later synchronizations.
cudaError_t cudaStreamDestroy(cudaStream_t handle) {
  stream_state* stream = resolve(handle);
  if (!stream || stream->legacy || stream->index == 1) return failed(cudaErrorInvalidResourceHandle);
  stream->destroyed = true;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t handle) {
  stream_state* stream = resolve(handle);
  if (!stream) return failed(cudaErrorInvalidResourceHandle);
  synchronize_stream(*stream);
  return cudaSuccess;
}

// A query is not a synchronization point, but a GPU makes progress on its own, so a host
// that polls must eventually see completion: a query that finds work pending says
// cudaErrorNotReady and lets the work run, the next one reports it done.
cudaError_t cudaStreamQuery(cudaStream_t handle) {
  stream_state* stream = resolve(handle);
  if (!stream) return failed(cudaErrorInvalidResourceHandle);
  if (finished(*stream, stream->last_id)) {
    host_waited_for(stream->clock);
    return cudaSuccess;
  }
  run_through(*stream, stream->last_id);
  return cudaErrorNotReady;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t handle, cudaEvent_t event_handle, unsigned int flags) {
  stream_state* stream = resolve(handle);
  event_state* event = resolve(event_handle);
  if (!stream || !event) return failed(cudaErrorInvalidResourceHandle);
  if (flags & ~static_cast<unsigned>(cudaEventWaitExternal)) return failed(cudaErrorInvalidValue);
  if (!event->recorded) return cudaSuccess;  // waiting on a never-recorded event waits for nothing
  const std::pair<stream_state*, std::uint64_t> waited{event->stream, event->op};
  enqueue(*stream, "cudaStreamWaitEvent", {}, [] {}, &waited, &event->clock);
  return cudaSuccess;
}

// ---- events ----

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* handle, unsigned int flags) {
  const unsigned known = cudaEventBlockingSync | cudaEventDisableTiming | cudaEventInterprocess;
  if (!handle || (flags & ~known)) return failed(cudaErrorInvalidValue);
  auto& rt = state();
  rt.events.push_back(std::make_unique<CUevent_st>());
  CUevent_st* event = rt.events.back().get();
  event->flags = flags;
  rt.live_events.insert(event);
  *handle = event;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* handle) { return cudaEventCreateWithFlags(handle, cudaEventDefault); }

cudaError_t cudaEventDestroy(cudaEvent_t handle) {
  if (!resolve(handle)) return failed(cudaErrorInvalidResourceHandle);
  state().live_events.erase(handle);
  return cudaSuccess;
}

// The event completes when the stream reaches it; it captures the stream's work so far.
cudaError_t cudaEventRecord(cudaEvent_t event_handle, cudaStream_t handle) {
  stream_state* stream = resolve(handle);
  event_state* event = resolve(event_handle);
  if (!stream || !event) return failed(cudaErrorInvalidResourceHandle);
  const std::uint64_t generation = ++event->generation;
  const enqueued record = enqueue(*stream, "cudaEventRecord", {}, [event, generation] {
    if (event->generation != generation) return;
    event->done = true;
    event->when = std::chrono::steady_clock::now();
  });
  event->recorded = true;
  event->done = false;
  event->stream = stream;
  event->op = record.id;
  event->clock = record.clock;
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t handle) {
  event_state* event = resolve(handle);
  if (!event) return failed(cudaErrorInvalidResourceHandle);
  if (!event->recorded) return cudaSuccess;
  run_through(*event->stream, event->op);
  host_waited_for(event->clock);
  return cudaSuccess;
}

// As cudaStreamQuery: pending work runs, the answer comes on the next query.
cudaError_t cudaEventQuery(cudaEvent_t handle) {
  event_state* event = resolve(handle);
  if (!event) return failed(cudaErrorInvalidResourceHandle);
  if (!event->recorded) return cudaSuccess;
  if (finished(*event->stream, event->op)) {
    host_waited_for(event->clock);
    return cudaSuccess;
  }
  run_through(*event->stream, event->op);
  return cudaErrorNotReady;
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start_handle, cudaEvent_t end_handle) {
  event_state* start = resolve(start_handle);
  event_state* end = resolve(end_handle);
  if (!ms) return failed(cudaErrorInvalidValue);
  if (!start || !end || !start->recorded || !end->recorded || ((start->flags | end->flags) & cudaEventDisableTiming)) {
    return failed(cudaErrorInvalidResourceHandle);
  }
  if (!finished(*start->stream, start->op) || !finished(*end->stream, end->op)) return cudaErrorNotReady;  // not an error: never sticky in cudaGetLastError
  *ms = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return cudaSuccess;
}

}  // extern "C"
