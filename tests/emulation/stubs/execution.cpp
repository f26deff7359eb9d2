// Stand-in for the execution half (and its report.cpp) while the runtime half is developed
// without it: threads run one after another, shared memory is one plain buffer, failures
// print and abort unless a handler is installed. None of the execution half's checks.

#include <cstdio>
#include <cstdlib>
#include <map>

#include "memloc_emulation/interface.hpp"

namespace memloc_emulation {

namespace {
const launch_description* running = nullptr;
std::vector<unsigned char> dynamic_shared;
std::map<const void*, std::vector<unsigned char>> static_shared;
failure_handler installed = nullptr;
}  // namespace

void run_grid(const launch_description& description, const std::function<void()>& thread_body) {
  running = &description;
  dynamic_shared.assign(description.dynamic_shared_bytes, 0xA5);
  const unsigned long long threads = 1ULL * description.grid.x * description.grid.y * description.grid.z *
                                     description.block.x * description.block.y * description.block.z;
  for (unsigned long long t = 0; t < threads; ++t) thread_body();
  static_shared.clear();
  running = nullptr;
}

void* block_static_shared(const void* key, std::size_t bytes, std::size_t /*alignment*/) {
  auto& buffer = static_shared[key];
  if (buffer.size() < bytes) buffer.assign(bytes, 0xA5);
  return buffer.data();
}

void* block_dynamic_shared() { return dynamic_shared.data(); }

std::uint64_t seed() {
  static const std::uint64_t value = [] {
    const char* text = std::getenv("MEMLOC_EMULATION_SEED");
    return text ? std::strtoull(text, nullptr, 0) : 0x5eed;
  }();
  return value;
}

void fail(const std::string& what) {
  if (installed) installed(what);
  std::fprintf(stderr, "memloc emulation: %s (seed %llu)\n", what.c_str(), static_cast<unsigned long long>(seed()));
  std::abort();
}

failure_handler set_failure_handler(failure_handler handler) {
  const failure_handler previous = installed;
  installed = handler;
  return previous;
}

}  // namespace memloc_emulation
