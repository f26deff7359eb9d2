// The execution half of memloc's CPU execution of CUDA (test-only): one grid at a time, its
// blocks one after another in a seeded random order, the threads of a block as cooperative
// fibers. A fiber switch is a few lines of assembly on x86-64 (callee-saved registers and the
// stack pointer; glibc's swapcontext also saves the signal mask, a system call per switch, and
// under ASan clears the whole target stack's shadow) and glibc's ucontext elsewhere (or with
// -DMEMLOC_EMULATION_UCONTEXT). No dependency beyond the C library. Measured on the self-tests'
// case of 64 blocks of 256 threads, 4 barriers each, race check included: about 10 ms with the
// assembly switch, 90 ms with swapcontext.
//
// A fiber runs until it blocks (a barrier, a warp operation) or exits. A warp operation
// completes as soon as the last lane of its mask arrives, and its warp goes on at once; when no
// fiber can run, the scheduler releases the barrier, else reports the warp operation or the
// deadlock that blocks it. The warps then resume in a new random order. Every check reports
// through fail(), naming the kernel, the block and the thread.

#include <cuda_runtime.h>
#include <cxxabi.h>
#include <dlfcn.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "memloc_emulation/device.hpp"
#include "memloc_emulation/interface.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define MEMLOC_EMULATION_ASAN 1
#else
#define MEMLOC_EMULATION_ASAN 0
#endif

namespace memloc_emulation {

// ---------------------------------------------------------------------------------------------
// Launch-side helpers of cuda_runtime.h

namespace detail {

bool valid_configuration(const cudaLaunchConfig_t& config) {
  const dim3 b = config.blockDim;
  const dim3 g = config.gridDim;
  if (b.x == 0 || b.y == 0 || b.z == 0 || g.x == 0 || g.y == 0 || g.z == 0) return false;
  if (b.x > 1024 || b.y > 1024 || b.z > 64) return false;
  if (static_cast<unsigned long long>(b.x) * b.y * b.z > 1024) return false;
  if (g.x > 2147483647u || g.y > 65535 || g.z > 65535) return false;
  return config.dynamicSmemBytes <= 48 * 1024;  // sharedMemPerBlock without an opt-in
}

std::string kernel_name(const void* kernel) {
  Dl_info info{};
  if (dladdr(kernel, &info) != 0 && info.dli_sname != nullptr && info.dli_saddr == kernel) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status),
                                                     std::free);
    return status == 0 && demangled ? std::string(demangled.get()) : std::string(info.dli_sname);
  }
  std::ostringstream address;
  address << "kernel at " << kernel << " (not exported: build with ENABLE_EXPORTS)";
  return address.str();
}

void add_region(std::vector<region>& regions, const void* address, bool written) {
  const void* base = nullptr;
  std::size_t bytes = 0;
  if (address == nullptr || !find_device_allocation(address, &base, &bytes)) return;
  for (region& known : regions) {
    if (known.begin == base) {
      known.written = known.written || written;
      return;
    }
  }
  regions.push_back(region{base, bytes, written});
}

}  // namespace detail

namespace {

// ---------------------------------------------------------------------------------------------
// Names of the kernels run, for the coverage test (MEMLOC_EMULATION_LAUNCHED)

class launched_kernels {
 public:
  void add(const std::string& name) {
    const std::lock_guard<std::mutex> lock(mutex_);
    names_.insert(name);
  }
  ~launched_kernels() {
    const char* path = std::getenv("MEMLOC_EMULATION_LAUNCHED");
    if (path == nullptr || *path == '\0') return;
    std::ofstream out(path, std::ios::app);
    for (const std::string& name : names_) out << name << '\n';
  }

 private:
  std::mutex mutex_;
  std::set<std::string> names_;
};

launched_kernels& launched() {
  static launched_kernels names;
  return names;
}

// ---------------------------------------------------------------------------------------------
// Random orders

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Orders depend on the seed, the kernel and the block only, not on how many launches came
// before, so one test case run alone replays the orders it had in the whole suite.
std::uint64_t order_seed(const std::string& kernel, std::uint64_t salt) {
  return mix(seed() ^ mix(std::hash<std::string>{}(kernel) ^ mix(salt)));
}

class random_order {
 public:
  explicit random_order(std::uint64_t state) : state_(state) {}
  template <class T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[next() % i]);
  }

 private:
  std::uint64_t next() { return state_ = mix(state_); }
  std::uint64_t state_;
};

// ---------------------------------------------------------------------------------------------
// Fiber stacks, one per thread index, kept for the life of the host thread

#if MEMLOC_EMULATION_ASAN
constexpr std::size_t stack_bytes = 256 * 1024;  // instrumented frames are several times larger
#else
constexpr std::size_t stack_bytes = 128 * 1024;  // address space only: untouched pages cost nothing
#endif

class stack_pool {
 public:
  stack_pool() = default;
  stack_pool(const stack_pool&) = delete;
  stack_pool& operator=(const stack_pool&) = delete;
  ~stack_pool() {
    for (void* mapping : mappings_) munmap(mapping, stack_bytes + page());
  }
  // The usable part of stack `index`; below it, a guard page turns an overflow into a fault.
  void* get(std::size_t index) {
    while (mappings_.size() <= index) {
      void* mapping = mmap(nullptr, stack_bytes + page(), PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (mapping == MAP_FAILED) fail("cannot map a fiber stack");
      mprotect(mapping, page(), PROT_NONE);
      mappings_.push_back(mapping);
    }
    return static_cast<char*>(mappings_[index]) + page();
  }

 private:
  static std::size_t page() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }
  std::vector<void*> mappings_;
};

thread_local stack_pool stacks;

// ---------------------------------------------------------------------------------------------
// Fiber contexts

#if defined(__x86_64__) && !defined(MEMLOC_EMULATION_UCONTEXT)
#define MEMLOC_EMULATION_ASSEMBLY_SWITCH 1

// Saves the callee-saved registers, MXCSR and the x87 control word on the current stack,
// stores the stack pointer in *save, and resumes the fiber whose stack pointer is `load`.
extern "C" void memloc_emulation_switch(void** save, void* load);
asm(R"(
  .text
  .p2align 4
  .type memloc_emulation_switch, @function
memloc_emulation_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  stmxcsr 8(%rsp)
  fnstcw (%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr 8(%rsp)
  fldcw (%rsp)
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size memloc_emulation_switch, .-memloc_emulation_switch
)");

struct context {
  void* stack_pointer = nullptr;
};

inline void switch_context(context& from, const context& to) {
  memloc_emulation_switch(&from.stack_pointer, to.stack_pointer);
}

// A frame as memloc_emulation_switch leaves it, whose return address is `entry` with the
// stack aligned as after a call (`entry` never returns: a zero return address ends unwinding).
void prepare_context(context& c, void* stack, std::size_t bytes, void (*entry)()) {
  auto* top = reinterpret_cast<std::uint64_t*>((reinterpret_cast<std::uintptr_t>(stack) + bytes) & ~std::uintptr_t{15});
  std::uint64_t* frame = top - 10;
#if MEMLOC_EMULATION_ASAN
  __asan_unpoison_memory_region(frame, 10 * sizeof(std::uint64_t));
#endif
  std::uint32_t mxcsr = 0;
  std::uint16_t control = 0;
  asm volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(control));
  std::memset(frame, 0, 10 * sizeof(std::uint64_t));
  std::memcpy(frame, &control, sizeof control);
  std::memcpy(frame + 1, &mxcsr, sizeof mxcsr);
  frame[8] = reinterpret_cast<std::uint64_t>(entry);  // frame[2..7]: r15 .. rbp, zero
  c.stack_pointer = frame;                            // frame[9]: entry's return address, zero
}

#else
#define MEMLOC_EMULATION_ASSEMBLY_SWITCH 0

struct context {
  ucontext_t state{};
};

inline void switch_context(context& from, const context& to) { swapcontext(&from.state, &to.state); }

void prepare_context(context& c, void* stack, std::size_t bytes, void (*entry)()) {
  getcontext(&c.state);
  c.state.uc_stack.ss_sp = stack;
  c.state.uc_stack.ss_size = bytes;
  c.state.uc_link = nullptr;
  makecontext(&c.state, entry, 0);
}
#endif

// ---------------------------------------------------------------------------------------------
// Block-shared memory: static objects laid out on first use (the same offsets in every block of
// a launch), then the dynamic part

constexpr std::size_t shared_bytes_per_block = 48 * 1024;
constexpr std::size_t arena_alignment = 256;

// ---------------------------------------------------------------------------------------------
// The threads of one block

enum class state { runnable, at_barrier, at_warp, exited };

struct fiber {
  context saved;
  void* stack = nullptr;
  uint3 index{0, 0, 0};
  unsigned linear = 0;
  state now = state::runnable;
  // the call site of the barrier or warp operation it waits at
  const char* file = "";
  int line = 0;
  detail::barrier_kind barrier = detail::barrier_kind::plain;
  detail::warp_kind warp = detail::warp_kind::sync;
  unsigned mask = 0;
  std::uint64_t bits = 0;  // predicate or shuffled value
  int operand = 0;
  int width = 32;
  std::uint64_t result = 0;
};

const char* warp_name(detail::warp_kind kind) {
  switch (kind) {
    case detail::warp_kind::sync:
      return "__syncwarp";
    case detail::warp_kind::shfl_idx:
      return "__shfl_sync";
    case detail::warp_kind::shfl_up:
      return "__shfl_up_sync";
    case detail::warp_kind::shfl_down:
      return "__shfl_down_sync";
    case detail::warp_kind::shfl_xor:
      return "__shfl_xor_sync";
    case detail::warp_kind::ballot:
      return "__ballot_sync";
    case detail::warp_kind::any:
      return "__any_sync";
    case detail::warp_kind::all:
      return "__all_sync";
  }
  return "warp operation";
}

std::string triple(const uint3& v) {
  return "(" + std::to_string(v.x) + ", " + std::to_string(v.y) + ", " + std::to_string(v.z) + ")";
}

std::string hex(unsigned mask) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", mask);
  return text;
}

class grid_runner;
thread_local grid_runner* active = nullptr;

class grid_runner {
 public:
  grid_runner(const launch_description& description, const std::function<void()>& body)
      : description_(description), body_(body) {
    const dim3 b = description.block;
    threads_ = b.x * b.y * b.z;
    fibers_.resize(threads_);
    for (unsigned t = 0; t < threads_; ++t) {
      fiber& f = fibers_[t];
      f.linear = t;
      f.index = uint3{t % b.x, (t / b.x) % b.y, t / (b.x * b.y)};
      f.stack = stacks.get(t);
    }
    arena_bytes_ = shared_bytes_per_block + description.dynamic_shared_bytes;
    arena_.reset(
        static_cast<unsigned char*>(std::aligned_alloc(arena_alignment, round_up(arena_bytes_, arena_alignment))));
    previous_ = active;
    active = this;
  }
  grid_runner(const grid_runner&) = delete;
  grid_runner& operator=(const grid_runner&) = delete;
  ~grid_runner() {
#if MEMLOC_EMULATION_ASAN
    // A failure abandons fibers mid-run, their frames' redzones still poisoned; a fiber that
    // returned has cleared its own, so only this case needs the (costly) whole-stack clear.
    if (std::uncaught_exceptions() > 0) {
      for (const fiber& f : fibers_) __asan_unpoison_memory_region(f.stack, stack_bytes);
    }
#endif
    active = previous_;
    std::tie(::threadIdx, ::blockIdx, ::blockDim, ::gridDim) = saved_builtins_;
  }

  void run() {
    const dim3 g = description_.grid;
    const std::uint64_t blocks = static_cast<std::uint64_t>(g.x) * g.y * g.z;
    std::vector<std::uint64_t> order(blocks);
    for (std::uint64_t i = 0; i < blocks; ++i) order[i] = i;
    random_order(order_seed(description_.kernel, ~0ull)).shuffle(order);

    ::blockDim = description_.block;
    ::gridDim = g;
    std::size_t written_bytes = 0;
    for (const region& r : description_.regions) written_bytes += r.written ? r.bytes : 0;
    std::size_t copied_bytes = 0;
    for (std::uint64_t linear : order) {
      block_ = uint3{static_cast<unsigned>(linear % g.x), static_cast<unsigned>((linear / g.x) % g.y),
                     static_cast<unsigned>(linear / (static_cast<std::uint64_t>(g.x) * g.y))};
      ::blockIdx = block_;
      const std::uint64_t block_seed = order_seed(description_.kernel, linear);
      // Whether a block touches block-shared memory shows only once it has run, so every block
      // starts from a copy of the writable memory, and those that touched it run twice (4
      // passes over that memory in all). Past a budget of copying, only the blocks that come
      // first in the (seeded, random) block order are checked.
      if (written_bytes > 0 && copied_bytes <= race_check_budget) {
        run_block_twice(block_seed);
        copied_bytes += written_bytes * (touched_shared_ ? 4 : 1);
      } else {
        run_block(block_seed, false);
      }
    }
  }

  // ---- called from fibers ----

  int barrier(detail::barrier_kind kind, int predicate, const char* file, int line) {
    fiber& f = *current_;
    f.barrier = kind;
    f.bits = predicate != 0;
    f.file = file;
    f.line = line;
    block(f, state::at_barrier);
    return static_cast<int>(f.result);
  }

  std::uint64_t warp(detail::warp_kind kind, unsigned mask, std::uint64_t bits, int operand, int width,
                     const char* file, int line) {
    fiber& f = *current_;
    f.file = file;
    f.line = line;
    if (width < 1 || width > 32 || (width & (width - 1)) != 0) {
      fail(where(f) + warp_name(kind) + " at " + site(f) + " with width " + std::to_string(width) +
           ": not a power of 2 from 1 to 32");
    }
    if ((mask & (1u << lane(f))) == 0) {
      fail(where(f) + warp_name(kind) + " at " + site(f) + " with mask " + hex(mask) +
           ", which does not name the calling lane " + std::to_string(lane(f)));
    }
    f.warp = kind;
    f.mask = mask;
    f.bits = bits;
    f.operand = operand;
    f.width = width;
    block(f, state::at_warp);
    return f.result;
  }

  unsigned active_lanes() const {
    const unsigned first = current_->linear & ~31u;
    unsigned mask = 0;
    for (unsigned t = first; t < std::min(first + 32, threads_); ++t) {
      if (fibers_[t].now != state::exited) mask |= 1u << (t - first);
    }
    return mask;
  }

  void* static_shared(const void* key, std::size_t bytes, std::size_t alignment) {
    touched_shared_ = true;
    auto found = layout_.find(key);
    if (found == layout_.end()) {
      if (alignment == 0 || alignment > arena_alignment || (alignment & (alignment - 1)) != 0) {
        fail(where(*current_) + "block-shared object with alignment " + std::to_string(alignment));
      }
      const std::size_t offset = round_up(static_used_, alignment);
      if (offset + bytes + description_.dynamic_shared_bytes > shared_bytes_per_block) {
        fail(where(*current_) + "static (" + std::to_string(offset + bytes) + " bytes) and dynamic (" +
             std::to_string(description_.dynamic_shared_bytes) + " bytes) block-shared memory exceed 48 KiB");
      }
      static_used_ = offset + bytes;
      found = layout_.emplace(key, offset).first;
    }
    return arena_.get() + found->second;
  }

  void* dynamic_shared() {
    touched_shared_ = true;
    return arena_.get() + shared_bytes_per_block;
  }

  bool inside_fiber() const { return current_ != nullptr; }

 private:
  static constexpr std::size_t race_check_budget = std::size_t{256} << 20;

  static std::size_t round_up(std::size_t n, std::size_t alignment) {
    return (n + alignment - 1) / alignment * alignment;
  }
  static unsigned lane(const fiber& f) { return f.linear % 32; }

  std::string where(const fiber& f) const {
    return "kernel " + description_.kernel + ", block " + triple(block_) + ", thread " + triple(f.index) + ": ";
  }
  static std::string site(const fiber& f) { return std::string(f.file) + ":" + std::to_string(f.line); }
  std::string waiting_at(const fiber& f) const {
    if (f.now == state::at_barrier) return "__syncthreads at " + site(f);
    return std::string(warp_name(f.warp)) + " (mask " + hex(f.mask) + ") at " + site(f);
  }

  // ---- switching ----

  // Not instrumented: a fiber's first frame is never popped (the fiber switches away for good),
  // so its redzones would stay poisoned under the next fiber started on the same stack.
#if MEMLOC_EMULATION_ASAN
  __attribute__((no_sanitize_address))
#endif
  static void
  entry() {
    grid_runner& self = *active;
#if MEMLOC_EMULATION_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &self.scheduler_stack_, &self.scheduler_stack_bytes_);
#endif
    try {
      self.body_();
    } catch (...) {
      self.failure_ = std::current_exception();
    }
    fiber& f = *self.current_;
    f.now = state::exited;
#if MEMLOC_EMULATION_ASAN
    __sanitizer_start_switch_fiber(nullptr, self.scheduler_stack_, self.scheduler_stack_bytes_);
#endif
    switch_context(f.saved, self.scheduler_);  // never resumed: the fiber is over
  }

  void block(fiber& f, state why) {
    f.now = why;
#if MEMLOC_EMULATION_ASAN
    void* fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&fake_stack, scheduler_stack_, scheduler_stack_bytes_);
#endif
    switch_context(f.saved, scheduler_);
#if MEMLOC_EMULATION_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, &scheduler_stack_, &scheduler_stack_bytes_);
#endif
  }

  void resume(fiber& f) {
    current_ = &f;
    ::threadIdx = f.index;
#if MEMLOC_EMULATION_ASAN
    void* fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&fake_stack, f.stack, stack_bytes);
#endif
    switch_context(scheduler_, f.saved);
#if MEMLOC_EMULATION_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
    current_ = nullptr;
    if (watch_ != nullptr && *watch_ != watched_) {
      watched_ = *watch_;
      writer_ = &f;
    }
    if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
  }

  // ---- one block ----

  void start_fibers() {
    for (fiber& f : fibers_) {
      prepare_context(f.saved, f.stack, stack_bytes, &grid_runner::entry);
      f.now = state::runnable;
    }
  }

  // Runs the block's threads until all have exited. `reversed`: every order the scheduler
  // draws is used back to front (the race check's second run).
  //
  // A round starts when the block starts and at each barrier: the warps in a seeded order,
  // each warp's lanes together in a seeded order. A warp operation completes when the last
  // lane of its mask arrives, and its lanes go on at once, ahead of the rest of the round, so
  // a warp runs from one barrier to the next without another warp in between. Not completing
  // it later (at the end of the round) matters: that made every shuffle a block-wide barrier,
  // and a race across one was never seen. Not letting other warps in between matters too: the
  // race check has two runs, and if warp A's steps a1 < a2 and warp B's step b both ran in
  // the order a1, b, a2, no second order puts both b before a1 and a2 before b, so one of the
  // two pairs would never be seen the other way round. Whole warps in one order, then in its
  // reverse, swap every pair of steps of different warps.
  void run_block(std::uint64_t block_seed, bool reversed) {
    // Poison: a read of block-shared memory before any write gives 0xFF bytes (NaN for float
    // and double, -1 or the maximum for integers), which the tests' results show.
    std::memset(arena_.get(), 0xFF, arena_bytes_);
    touched_shared_ = false;
    start_fibers();
    random_order orders(block_seed);
    std::vector<unsigned> released(threads_);
    for (unsigned t = 0; t < threads_; ++t) released[t] = t;
    // The round's fibers still to run, the next one last.
    std::vector<unsigned> pending;
    for (;;) {
      queue_round(released, orders, reversed, pending);
      while (!pending.empty()) {
        fiber& f = fibers_[pending.back()];
        pending.pop_back();
        resume(f);
        if (f.now == state::at_warp) complete_warp_operation(f, orders, reversed, pending);
      }
      report_stuck_warp_operations();
      released.clear();
      release_barrier(released);
      if (released.empty()) return;  // every thread has exited
    }
  }

  // `released` in ascending order: the warps shuffled, then the lanes inside each.
  void queue_round(const std::vector<unsigned>& released, random_order& orders, bool reversed,
                   std::vector<unsigned>& pending) {
    std::vector<std::vector<unsigned>> warps;
    for (unsigned t : released) {
      if (warps.empty() || warps.back().front() / 32 != t / 32) warps.emplace_back();
      warps.back().push_back(t);
    }
    orders.shuffle(warps);
    std::vector<unsigned> order;
    for (std::vector<unsigned>& lanes : warps) {
      orders.shuffle(lanes);
      order.insert(order.end(), lanes.begin(), lanes.end());
    }
    if (!reversed) std::reverse(order.begin(), order.end());
    pending.insert(pending.end(), order.begin(), order.end());
  }

  // `f` has just arrived at a warp operation: if every lane of its mask is there with the same
  // operation and mask, the operation completes and its lanes run next. Anything else waits:
  // a lane still running may yet arrive, and what never can is reported once the block stalls.
  void complete_warp_operation(const fiber& f, random_order& orders, bool reversed, std::vector<unsigned>& pending) {
    const unsigned first = f.linear & ~31u;
    std::vector<unsigned> lanes;
    for (unsigned l = 0; l < 32; ++l) {
      if ((f.mask & (1u << l)) == 0) continue;
      const unsigned t = first + l;
      if (t >= threads_) return;
      const fiber& other = fibers_[t];
      if (other.now != state::at_warp || other.mask != f.mask || other.warp != f.warp) return;
      lanes.push_back(t);
    }
    exchange(first, f.mask);
    orders.shuffle(lanes);
    if (!reversed) std::reverse(lanes.begin(), lanes.end());
    pending.insert(pending.end(), lanes.begin(), lanes.end());
  }

  // Once no fiber can run, every warp operation still waiting names a lane that will never
  // arrive: one that has exited or does not exist, one at another warp operation or with
  // another mask (reported here), or one at a barrier (the deadlock release_barrier reports).
  void report_stuck_warp_operations() const {
    for (const fiber& f : fibers_) {
      if (f.now != state::at_warp) continue;
      const unsigned first = f.linear & ~31u;
      for (unsigned l = 0; l < 32; ++l) {
        if ((f.mask & (1u << l)) == 0) continue;
        const unsigned t = first + l;
        if (t >= threads_ || fibers_[t].now == state::exited) {
          fail(where(f) + warp_name(f.warp) + " at " + site(f) + " with mask " + hex(f.mask) + " names lane " +
               std::to_string(l) + (t >= threads_ ? ", which does not exist in this block" : ", which has exited"));
        }
        const fiber& other = fibers_[t];
        if (other.now == state::at_warp && (other.mask != f.mask || other.warp != f.warp)) {
          fail(where(f) + warp_name(f.warp) + " at " + site(f) + " with mask " + hex(f.mask) + " meets lane " +
               std::to_string(l) + " (thread " + triple(other.index) + ") at " + waiting_at(other) +
               ": the lanes of a mask must run the same warp operation with the same mask");
        }
      }
    }
  }

  // CUDA's results, from PTX's shfl.sync: the source lane j of each mode, clamped to the lane's
  // segment of `width` lanes (idx wraps inside it; up, down and xor return the lane's own value
  // when j leaves it upwards or, for up, downwards).
  void exchange(unsigned first, unsigned mask) {
    std::uint64_t ballot = 0;
    for (unsigned l = 0; l < 32; ++l) {
      if ((mask & (1u << l)) != 0 && fibers_[first + l].bits != 0) ballot |= 1ull << l;
    }
    for (unsigned l = 0; l < 32; ++l) {
      if ((mask & (1u << l)) == 0) continue;
      fiber& f = fibers_[first + l];
      const int width = f.width;
      const int me = static_cast<int>(l);
      const int segment_first = me & ~(width - 1);
      const int segment_last = segment_first + width - 1;
      const int operand = f.operand & 31;
      int source = me;
      switch (f.warp) {
        case detail::warp_kind::shfl_idx:
          source = segment_first | (f.operand & (width - 1));
          break;
        case detail::warp_kind::shfl_up:
          source = me - operand >= segment_first ? me - operand : me;
          break;
        case detail::warp_kind::shfl_down:
          source = me + operand <= segment_last ? me + operand : me;
          break;
        case detail::warp_kind::shfl_xor:
          source = (me ^ operand) <= segment_last ? me ^ operand : me;
          break;
        case detail::warp_kind::ballot:
          f.result = ballot;
          break;
        case detail::warp_kind::any:
          f.result = ballot != 0;
          break;
        case detail::warp_kind::all:
          f.result = ballot == mask;
          break;
        case detail::warp_kind::sync:
          f.result = 0;
          break;
      }
      if (f.warp == detail::warp_kind::shfl_idx || f.warp == detail::warp_kind::shfl_up ||
          f.warp == detail::warp_kind::shfl_down || f.warp == detail::warp_kind::shfl_xor) {
        if ((mask & (1u << source)) == 0) {
          fail(where(f) + warp_name(f.warp) + " at " + site(f) + " reads lane " + std::to_string(source) +
               ", which is not in its mask " + hex(mask) + " (the value is undefined on a GPU)");
        }
        f.result = fibers_[first + static_cast<unsigned>(source)].bits;
      }
    }
    for (unsigned l = 0; l < 32; ++l) {
      if ((mask & (1u << l)) != 0) fibers_[first + l].now = state::runnable;
    }
  }

  // Releases the barrier when every live thread waits at the same one; otherwise no thread can
  // ever run again, and the report says who waits where.
  void release_barrier(std::vector<unsigned>& runnable) {
    const fiber* first = nullptr;
    for (const fiber& f : fibers_) {
      if (f.now == state::exited) continue;
      if (first == nullptr) {
        first = &f;
        continue;
      }
      if (f.now != state::at_barrier || first->now != state::at_barrier) {
        const fiber& at_barrier = f.now == state::at_barrier ? f : *first;
        const fiber& other = f.now == state::at_barrier ? *first : f;
        fail(where(at_barrier) + "deadlock: waits at " + waiting_at(at_barrier) + " while thread " +
             triple(other.index) + " waits at " + waiting_at(other));
      }
      if (f.barrier != first->barrier || f.line != first->line || std::strcmp(f.file, first->file) != 0) {
        fail(where(*first) + "divergent barrier: waits at " + waiting_at(*first) + " while thread " + triple(f.index) +
             " waits at " + waiting_at(f) + " (every live thread of a block must reach the same __syncthreads)");
      }
    }
    if (first == nullptr) return;
    unsigned count = 0, live = 0;
    for (const fiber& f : fibers_) {
      if (f.now == state::exited) continue;
      ++live;
      count += f.bits != 0;
    }
    for (fiber& f : fibers_) {
      if (f.now == state::exited) continue;
      switch (f.barrier) {
        case detail::barrier_kind::plain:
          f.result = 0;
          break;
        case detail::barrier_kind::count:
          f.result = count;
          break;
        case detail::barrier_kind::all:
          f.result = count == live;
          break;
        case detail::barrier_kind::any:
          f.result = count != 0;
          break;
      }
      f.now = state::runnable;
      runnable.push_back(f.linear);
    }
  }

  // ---- the race check ----

  // Runs the block under a random thread order, then again from the same memory with that
  // order reversed at every scheduling point. Between two scheduling points each thread runs
  // alone to its next barrier or warp operation, so two threads' accesses to the same
  // block-shared address that no barrier orders happen in one order in the first run and in
  // the other order in the second: a read that can see or miss a write, or two writes of
  // different values, end differently and so do the bytes the block writes to device memory,
  // which are compared. Writes of the same value, and accesses a barrier orders, give the same
  // bytes both times and are not reported. A block that keeps whichever thread comes first
  // (an atomicCAS claiming a slot, with different values) depends on order as much and is
  // reported too, though only where it also uses block-shared memory.
  void run_block_twice(std::uint64_t block_seed) {
    std::vector<std::vector<unsigned char>> before = save();
    run_block(block_seed, false);
    if (!touched_shared_) return;
    std::vector<std::vector<unsigned char>> first = save();
    restore(before);
    run_block(block_seed, true);
    std::size_t k = 0;
    for (const region& r : description_.regions) {
      if (!r.written) continue;
      const auto* now = static_cast<const unsigned char*>(r.begin);
      const std::vector<unsigned char>& then = first[k++];
      const auto differ = std::mismatch(then.begin(), then.end(), now);
      if (differ.first == then.end()) continue;
      const std::size_t offset = static_cast<std::size_t>(differ.first - then.begin());
      const unsigned forward_value = *differ.first, reverse_value = *differ.second;
      const unsigned char* address = static_cast<const unsigned char*>(r.begin) + offset;
      // Two more runs, watching the byte, name the threads that leave each value there.
      const std::string forward_writer = writer_of(address, before, block_seed, false);
      const std::string reverse_writer = writer_of(address, before, block_seed, true);
      std::ostringstream report;
      report << "kernel " << description_.kernel << ", block " << triple(block_)
             << ": data race: what the block writes depends on the order of its threads: byte " << offset
             << " of the device allocation at " << r.begin << " (" << r.bytes << " bytes) is 0x" << std::hex
             << forward_value << " under one order (" << forward_writer << ") and 0x" << reverse_value << std::dec
             << " under its reverse (" << reverse_writer
             << "); a barrier is missing between threads that write and read the same block-shared data, or the "
                "kernel keeps whichever thread comes first (atomicCAS, atomicExch)";
      fail(report.str());
    }
  }

  std::string writer_of(const unsigned char* address, const std::vector<std::vector<unsigned char>>& before,
                        std::uint64_t block_seed, bool reversed) {
    restore(before);
    watch_ = address;
    watched_ = *address;
    writer_ = nullptr;
    run_block(block_seed, reversed);
    watch_ = nullptr;
    return writer_ == nullptr ? std::string("no thread writes it") : "written last by thread " + triple(writer_->index);
  }

  std::vector<std::vector<unsigned char>> save() const {
    std::vector<std::vector<unsigned char>> copies;
    for (const region& r : description_.regions) {
      if (!r.written) continue;
      const auto* bytes = static_cast<const unsigned char*>(r.begin);
      copies.emplace_back(bytes, bytes + r.bytes);
    }
    return copies;
  }

  void restore(const std::vector<std::vector<unsigned char>>& copies) const {
    std::size_t k = 0;
    for (const region& r : description_.regions) {
      if (r.written) std::memcpy(const_cast<void*>(r.begin), copies[k++].data(), r.bytes);
    }
  }

  const launch_description& description_;
  const std::function<void()>& body_;
  unsigned threads_ = 0;
  std::vector<fiber> fibers_;
  fiber* current_ = nullptr;
  context scheduler_;
  std::exception_ptr failure_;
  uint3 block_{0, 0, 0};
  std::map<const void*, std::size_t> layout_;
  std::size_t static_used_ = 0;
  std::size_t arena_bytes_ = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> arena_{nullptr, std::free};
  bool touched_shared_ = false;
  // the byte the race report follows, its value, and the thread whose run last changed it
  const unsigned char* watch_ = nullptr;
  unsigned char watched_ = 0;
  const fiber* writer_ = nullptr;
  grid_runner* previous_ = nullptr;
  std::tuple<uint3, uint3, dim3, dim3> saved_builtins_{::threadIdx, ::blockIdx, ::blockDim, ::gridDim};
#if MEMLOC_EMULATION_ASAN
  const void* scheduler_stack_ = nullptr;
  std::size_t scheduler_stack_bytes_ = 0;
#endif
};

grid_runner& running(const char* what) {
  if (active == nullptr || !active->inside_fiber()) {
    fail(std::string(what) + " called outside a kernel");
  }
  return *active;
}

}  // namespace

void run_grid(const launch_description& description, const std::function<void()>& thread_body) {
  launched().add(description.kernel);
  if (active != nullptr && active->inside_fiber()) {
    fail("kernel " + description.kernel + " launched from inside a kernel (dynamic parallelism is not emulated)");
  }
  grid_runner runner(description, thread_body);
  runner.run();
}

void* block_static_shared(const void* key, std::size_t bytes, std::size_t alignment) {
  return running("block-shared memory").static_shared(key, bytes, alignment);
}

void* block_dynamic_shared() { return running("dynamic block-shared memory").dynamic_shared(); }

namespace detail {

int block_barrier(barrier_kind kind, int predicate, const char* file, int line) {
  return running("__syncthreads").barrier(kind, predicate, file, line);
}

std::uint64_t warp_operation(warp_kind kind, unsigned mask, std::uint64_t bits, int operand, int width,
                             const char* file, int line) {
  return running(warp_name(kind)).warp(kind, mask, bits, operand, width, file, line);
}

unsigned active_mask() { return running("__activemask").active_lanes(); }

}  // namespace detail
}  // namespace memloc_emulation
