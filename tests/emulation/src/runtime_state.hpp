#pragma once

// Internal to the runtime half: what device_memory.cpp (placement, protection, the fault
// handler) and runtime.cpp (streams, events, copies, ordering) share.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace memloc_emulation::detail {

// One queued operation's use of part of an allocation, kept until a later access that is
// ordered after it and covers its range makes it redundant.
struct access {
  std::size_t begin = 0;  // offsets into the allocation
  std::size_t end = 0;
  bool written = false;
  std::size_t stream_index = 0;  // the vector-clock component of the stream that issued it
  std::uint64_t tick = 0;        // that component's value at the operation
  std::string stream;            // for reports
  std::string operation;
};

struct allocation {
  unsigned char* data = nullptr;  // what cudaMalloc returned
  std::size_t bytes = 0;          // what was asked for
  unsigned char* mapping = nullptr;  // the whole reservation, guards included (not under ASan)
  std::size_t mapping_bytes = 0;
  bool pending_free = false;  // cudaFreeAsync queued: no new work may name it
  std::vector<access> accesses;
};

// cudaMalloc's placement; nullptr when the system refuses. The memory is unreachable from
// host code until a device_access scope opens.
allocation* allocate_device(std::size_t bytes);
void release_device(allocation* block);
// The allocation whose [data, data + bytes) holds `address`, pending frees included.
allocation* allocation_holding(const void* address);

std::string hex(const void* address);  // as reports print addresses

// While one is alive, queued work runs: every device allocation is readable and writable,
// and a fault is attributed to `operation`. Scopes nest (an operation may drag in the
// operations it depends on).
class device_access {
 public:
  explicit device_access(const std::string& operation);
  ~device_access();
  device_access(const device_access&) = delete;
  device_access& operator=(const device_access&) = delete;

 private:
  const std::string* outer_;
};

}  // namespace memloc_emulation::detail
