// Device memory that host code cannot touch. Outside queued work every allocation is
// PROT_NONE, so a host read or write of a cudaMalloc pointer (which on a GPU returns garbage
// or crashes far from the bug) faults at the instruction; a SIGSEGV handler names the
// allocation. Each allocation ends (rounded up to CUDA's 256-byte alignment) against an
// always-inaccessible guard page, so a kernel's store past the end faults too, while the
// kernel runs. Under AddressSanitizer, mprotect and a SIGSEGV handler would fight ASan's own
// shadow memory and fault handling, so ASan does the same job: the memory is poisoned
// outside queued work (host access: use-after-poison) and its redzones catch overruns.

#include <sys/mman.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>

#include "memloc_emulation/interface.hpp"
#include "runtime_state.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define MEMLOC_EMULATION_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMLOC_EMULATION_ASAN 1
#endif
#endif

#if defined(MEMLOC_EMULATION_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace memloc_emulation::detail {

namespace {

constexpr std::size_t cuda_alignment = 256;  // cudaMalloc's documented minimum alignment
constexpr int fresh_device_memory_byte = 0xFF;

// Keyed by the first byte of the reservation (or of the data under ASan), so a fault
// address finds its allocation with one upper_bound.
// Never destroyed, as the runtime's state: a static buffer holder may cudaFree at exit.
std::map<const unsigned char*, std::unique_ptr<allocation>>& allocations() {
  static auto* all = new std::map<const unsigned char*, std::unique_ptr<allocation>>;
  return *all;
}

int open_scopes = 0;
const std::string* running_operation = nullptr;

#if defined(MEMLOC_EMULATION_ASAN)

const unsigned char* key_of(const allocation& block) { return block.data; }

void make_reachable(allocation& block, bool reachable) {
  if (reachable) {
    ASAN_UNPOISON_MEMORY_REGION(block.data, block.bytes);
  } else {
    ASAN_POISON_MEMORY_REGION(block.data, block.bytes);
  }
}

allocation* place(std::size_t bytes) {
  void* data = nullptr;
  // The exact size, not the rounded one: ASan's redzone then starts at the first byte past
  // what was asked for, stricter than the guard page (which starts past the 256-byte round).
  if (posix_memalign(&data, cuda_alignment, bytes) != 0) return nullptr;
  auto block = std::make_unique<allocation>();
  block->data = static_cast<unsigned char*>(data);
  block->bytes = bytes;
  return block.release();
}

// ASan's own quarantine reports a use after free.
void retire(std::unique_ptr<allocation> block) {
  make_reachable(*block, true);
  std::free(block->data);
}

void install_fault_handler() {}

#else

std::size_t round_up(std::size_t value, std::size_t to) { return (value + to - 1) / to * to; }

std::size_t page_bytes() {
  static const std::size_t bytes = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return bytes;
}

const unsigned char* key_of(const allocation& block) { return block.mapping; }

// The pages between the front guard and the back guard.
void make_reachable(allocation& block, bool reachable) {
  const std::size_t page = page_bytes();
  if (mprotect(block.mapping + page, block.mapping_bytes - 2 * page, reachable ? PROT_READ | PROT_WRITE : PROT_NONE) !=
      0) {
    fail("mprotect failed on emulated device memory: " + std::string(std::strerror(errno)));
  }
}

// [front guard][slack][data, ending at a 256-byte multiple][back guard]: the end abuts the
// back guard; the front guard keeps a neighbouring mapping from absorbing an underrun.
allocation* place(std::size_t bytes) {
  const std::size_t page = page_bytes();
  const std::size_t rounded = round_up(bytes, cuda_alignment);
  const std::size_t data_pages = round_up(rounded, page);
  const std::size_t total = data_pages + 2 * page;
  void* mapping = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapping == MAP_FAILED) return nullptr;
  auto block = std::make_unique<allocation>();
  block->mapping = static_cast<unsigned char*>(mapping);
  block->mapping_bytes = total;
  block->data = block->mapping + page + data_pages - rounded;
  block->bytes = bytes;
  return block.release();
}

// A freed block stays reserved and inaccessible for a while, so a kernel or host access
// through a stale pointer faults and is named, instead of landing in whatever the address
// is reused for. Bounded, since each reservation is one of the kernel's limited mappings.
constexpr std::size_t quarantine_limit = 4096;

std::deque<std::unique_ptr<allocation>>& quarantine() {
  static auto* freed = new std::deque<std::unique_ptr<allocation>>;
  return *freed;
}

void retire(std::unique_ptr<allocation> block) {
  // Mapping fresh PROT_NONE pages over the block returns its memory to the system.
  mmap(block->mapping, block->mapping_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  auto& freed = quarantine();
  freed.push_back(std::move(block));
  if (freed.size() > quarantine_limit) {
    munmap(freed.front()->mapping, freed.front()->mapping_bytes);
    freed.pop_front();
  }
}

std::string accessor() { return running_operation ? "during " + *running_operation : "from host code"; }

std::string describe_use_after_free(const allocation& block, const unsigned char* address) {
  return "use of device memory after cudaFree at " + hex(address) + " (byte " + std::to_string(address - block.data) +
         " of a freed " + std::to_string(block.bytes) + "-byte allocation at " + hex(block.data) + "), " + accessor();
}

std::string describe_fault(const allocation& block, const unsigned char* address) {
  const std::string size = std::to_string(block.bytes) + "-byte cudaMalloc allocation at " + hex(block.data);
  if (address >= block.data + round_up(block.bytes, cuda_alignment) || address < block.data) {
    const std::string where =
        address < block.data ? std::to_string(block.data - address) + " bytes before the start of an " + size
                             : std::to_string(address - (block.data + block.bytes)) + " bytes past the end of an " + size;
    if (running_operation) return "out-of-bounds device access at " + hex(address) + ", " + where + ", " + accessor();
    return "host code read or wrote device memory at " + hex(address) + ", " + where +
           "; only kernels and cudaMemcpy may touch it";
  }
  return "host code read or wrote device memory at " + hex(address) + " (byte " + std::to_string(address - block.data) +
         " of an " + size + "); only kernels and cudaMemcpy may touch it";
}

struct sigaction previous_action {};  // the SIGSEGV action ours displaced, never ours

// Runs on an alternate stack: the fault may come from a kernel thread's small fiber stack,
// or from a stack overflow that is none of our business but must still reach SIG_DFL.
void on_fault(int signal, siginfo_t* info, void* context) {
  const auto* address = static_cast<const unsigned char*>(info->si_addr);
  auto& all = allocations();
  auto after = all.upper_bound(address);
  if (after != all.begin()) {
    const allocation& block = *std::prev(after)->second;
    if (address < block.mapping + block.mapping_bytes) {
      std::signal(SIGSEGV, SIG_DFL);  // a fault while reporting must not loop
      fail(describe_fault(block, address));
    }
  }
  for (const auto& block : quarantine()) {
    if (address >= block->mapping && address < block->mapping + block->mapping_bytes) {
      std::signal(SIGSEGV, SIG_DFL);
      fail(describe_use_after_free(*block, address));
    }
  }
  // Not ours: whoever handled SIGSEGV before us (the execution half guarding its fiber
  // stacks, a test framework), else the default action once the access re-executes.
  if ((previous_action.sa_flags & SA_SIGINFO) && previous_action.sa_sigaction) {
    previous_action.sa_sigaction(signal, info, context);
    return;
  }
  if (!(previous_action.sa_flags & SA_SIGINFO) && previous_action.sa_handler != SIG_DFL &&
      previous_action.sa_handler != SIG_IGN) {
    previous_action.sa_handler(signal);
    return;
  }
  std::signal(SIGSEGV, SIG_DFL);
}

// Checked again at every allocation and every run of queued work, since a test framework
// (doctest) installs its own SIGSEGV handler around each test case and restores the one it
// found afterwards, which may predate ours.
void install_fault_handler() {
  struct sigaction current {};
  sigaction(SIGSEGV, nullptr, &current);
  if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_fault) return;
  static std::unique_ptr<unsigned char[]> alternate(new unsigned char[1 << 16]);
  stack_t stack{};
  stack.ss_sp = alternate.get();
  stack.ss_size = 1 << 16;
  sigaltstack(&stack, nullptr);
  struct sigaction action {};
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSEGV, &action, nullptr);
  previous_action = current;
}

#endif

}  // namespace

std::string hex(const void* address) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", address);
  return text;
}

allocation* allocate_device(std::size_t bytes) {
  install_fault_handler();
  allocation* block = place(bytes);
  if (!block) return nullptr;
  allocations().emplace(key_of(*block), std::unique_ptr<allocation>(block));
  // cudaMalloc's memory is uninitialised on a GPU, while fresh pages here would be zero, and
  // memloc reads zero as "none" in places (status records, keys, partials): a missing
  // cudaMemset must show up, so new memory holds a pattern that is NaN as float or double
  // and far from zero as an integer.
  make_reachable(*block, true);
  std::memset(block->data, fresh_device_memory_byte, block->bytes);
  // A block born inside a scope (cudaMallocAsync never is, but be safe) starts reachable.
  make_reachable(*block, open_scopes > 0);
  return block;
}

void release_device(allocation* block) {
  auto node = allocations().extract(key_of(*block));
  retire(std::move(node.mapped()));
}

allocation* allocation_holding(const void* address) {
  const auto* byte = static_cast<const unsigned char*>(address);
  auto& all = allocations();
  auto after = all.upper_bound(byte);
  if (after == all.begin()) return nullptr;
  allocation* block = std::prev(after)->second.get();
  return byte >= block->data && byte < block->data + block->bytes ? block : nullptr;
}

device_access::device_access(const std::string& operation) : outer_(running_operation) {
  if (open_scopes++ == 0) {
    install_fault_handler();
    for (auto& entry : allocations()) make_reachable(*entry.second, true);
  }
  running_operation = &operation;
}

device_access::~device_access() {
  running_operation = outer_;
  if (--open_scopes == 0) {
    for (auto& entry : allocations()) make_reachable(*entry.second, false);
  }
}

}  // namespace memloc_emulation::detail
