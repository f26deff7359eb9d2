#pragma once

#include <omp.h>

#include <algorithm>
#include <vector>

#include "../../exec.hpp"
#include "../../view.hpp"

namespace memloc::detail::host {

inline int thread_count(const host_exec& exec) noexcept {
  return exec.threads > 0 ? exec.threads : omp_get_max_threads();
}

// Runs body(i) for i in [0, n) on the exec's threads, statically scheduled so that the
// assignment of work (and so every result) does not depend on timing. An exception cannot
// leave an OpenMP region, so body must not throw.
template <class Body>
void parallel_for(const host_exec& exec, index_t n, Body&& body) {
  const int threads = static_cast<int>(std::min<index_t>(thread_count(exec), n));
  if (threads <= 1) {
    for (index_t i = 0; i < n; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(threads)
  for (index_t i = 0; i < n; ++i) body(i);
}

// Threads that parallel_for_with_scratch uses for n tasks: the size its scratch needs.
inline int worker_count(const host_exec& exec, index_t n) noexcept {
  return static_cast<int>(std::max<index_t>(1, std::min<index_t>(thread_count(exec), n)));
}

// Like parallel_for, with scratch[t] passed to body as thread t's own scratch; `scratch`
// holds worker_count(exec, n) elements. What a body leaves in its scratch stays there for
// the caller, so order-free results (a maximum) can be combined afterwards.
template <class Scratch, class Body>
void parallel_for_with_scratches(index_t n, std::vector<Scratch>& scratch, Body&& body) {
  const int threads = static_cast<int>(scratch.size());
  if (threads == 1) {
    for (index_t i = 0; i < n; ++i) body(i, scratch[0]);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    Scratch& mine = scratch[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(static)
    for (index_t i = 0; i < n; ++i) body(i, mine);
  }
}

// Like parallel_for, with one copy of `prototype` per thread passed to body as scratch.
// The copies are made here, on the calling thread, so an allocation failure is an
// ordinary std::bad_alloc; body must keep within the prototype's capacity.
template <class Scratch, class Body>
void parallel_for_with_scratch(const host_exec& exec, index_t n, const Scratch& prototype, Body&& body) {
  std::vector<Scratch> scratch(static_cast<std::size_t>(worker_count(exec, n)), prototype);
  parallel_for_with_scratches(n, scratch, body);
}

// Sets every element of a large buffer to value on the exec's threads: one thread writes
// about 10 GB/s here, under half of what the memory takes.
template <class T>
void parallel_fill(const host_exec& exec, std::vector<T>& buffer, T value) {
  constexpr index_t chunk = index_t{1} << 17;
  const auto n = static_cast<index_t>(buffer.size());
  parallel_for(exec, (n + chunk - 1) / chunk, [&](index_t k) {
    std::fill(buffer.begin() + k * chunk, buffer.begin() + std::min(n, (k + 1) * chunk), value);
  });
}

}  // namespace memloc::detail::host
