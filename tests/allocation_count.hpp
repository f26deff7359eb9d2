#pragma once

// Heap allocations seen by the host test program since it started, so that a test can show
// that a call keeps no working copy of its data (issue 16). Counted by the replacement
// operator new of test_allocation_count.cpp, on every thread.

#include <cstddef>

namespace testing {

std::size_t heap_allocations() noexcept;

}  // namespace testing
