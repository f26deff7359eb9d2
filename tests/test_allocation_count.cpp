// The program's replacement of the global operator new and delete, counting allocations for
// allocation_count.hpp. Every replaceable form the tests' code can reach is replaced as a
// pair on malloc and free, so that no pointer is freed by an allocator other than the one
// that made it (AddressSanitizer checks this in the --sanitize build). The aligned forms
// are left alone: they pair with the library's own aligned delete.

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "allocation_count.hpp"

namespace {

std::atomic<std::size_t> allocations{0};

void* counted_allocation(std::size_t size) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}

void* counted_or_throw(std::size_t size) {
  void* p = counted_allocation(size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(std::size_t size) { return counted_or_throw(size); }
void* operator new[](std::size_t size) { return counted_or_throw(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_allocation(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_allocation(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace testing {

std::size_t heap_allocations() noexcept { return allocations.load(std::memory_order_relaxed); }

// The counter the no-working-copy tests rely on must see an allocation when one happens.
TEST_CASE("allocation count: a vector's storage is counted") {
  const std::size_t before = heap_allocations();
  std::vector<double> v(100);
  v[0] = 1.0;
  CHECK(heap_allocations() == before + 1);
  CHECK(v.data() != nullptr);
}

}  // namespace testing
