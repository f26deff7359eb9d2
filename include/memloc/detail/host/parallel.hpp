#pragma once

#include <omp.h>

#include "../../exec.hpp"
#include "../../view.hpp"

namespace memloc::detail::host {

inline int thread_count(const host_exec& exec) noexcept {
  return exec.threads > 0 ? exec.threads : omp_get_max_threads();
}

// Runs body(i) for i in [0, n) on the exec's threads, statically scheduled so that the
// assignment of work (and so every result) does not depend on timing.
template <class Body>
void parallel_for(const host_exec& exec, index_t n, Body&& body) {
  const int threads = thread_count(exec);
  if (threads <= 1 || n <= 1) {
    for (index_t i = 0; i < n; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(threads)
  for (index_t i = 0; i < n; ++i) body(i);
}

// Like parallel_for, but each thread first builds a scratch object of its own, so loops
// that need a buffer allocate it once per thread rather than once per iteration.
template <class MakeScratch, class Body>
void parallel_for_with_scratch(const host_exec& exec, index_t n, MakeScratch&& make_scratch, Body&& body) {
  const int threads = thread_count(exec);
  if (threads <= 1 || n <= 1) {
    auto scratch = make_scratch();
    for (index_t i = 0; i < n; ++i) body(i, scratch);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    auto scratch = make_scratch();
#pragma omp for schedule(static)
    for (index_t i = 0; i < n; ++i) body(i, scratch);
  }
}

}  // namespace memloc::detail::host
