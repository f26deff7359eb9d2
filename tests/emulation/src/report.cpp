// The seed of every random order the emulation takes, and the way its checks report.

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "memloc_emulation/interface.hpp"

namespace memloc_emulation {
namespace {

std::uint64_t draw_seed() {
  if (const char* text = std::getenv("MEMLOC_EMULATION_SEED"); text != nullptr && *text != '\0') {
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text, &end, 10);
    if (end != nullptr && *end == '\0') return value;
    std::fprintf(stderr, "memloc emulation: MEMLOC_EMULATION_SEED=%s is not a decimal number\n", text);
    std::abort();
  }
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

[[noreturn]] void print_and_abort(const std::string& report) {
  std::fprintf(stderr, "%s\n", report.c_str());
  std::fflush(stderr);
  std::abort();
}

std::atomic<failure_handler> handler{&print_and_abort};

}  // namespace

std::uint64_t seed() {
  static const std::uint64_t value = [] {
    const std::uint64_t drawn = draw_seed();
    std::fprintf(stderr, "memloc emulation: seed %llu (set MEMLOC_EMULATION_SEED=%llu to replay)\n",
                 static_cast<unsigned long long>(drawn), static_cast<unsigned long long>(drawn));
    return drawn;
  }();
  return value;
}

void fail(const std::string& what) {
  const std::string report = "memloc emulation: " + what + " [seed " + std::to_string(seed()) +
                             ": set MEMLOC_EMULATION_SEED=" + std::to_string(seed()) + " to replay]";
  handler.load()(report);
  // A handler must not return; one that does still must not let the kernel go on.
  print_and_abort(report);
}

namespace detail {

void misaligned_atomic(const void* address, std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", address);
  fail("atomic on a misaligned address: " + std::to_string(bytes) + "-byte atomic at " + text +
       " (a GPU stops the kernel with cudaErrorMisalignedAddress)");
}

void misaligned_load(const void* address, std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", address);
  fail("load from a misaligned address: " + std::to_string(bytes) + "-byte vector load at " + text +
       " (a GPU stops the kernel with cudaErrorMisalignedAddress)");
}

}  // namespace detail

failure_handler set_failure_handler(failure_handler next) {
  return handler.exchange(next != nullptr ? next : &print_and_abort);
}

}  // namespace memloc_emulation
