#pragma once

// Counts of the work that issue 16 wants done once per call, read by the tests that keep it
// so. Each count costs one relaxed increment per call, never per element, so the counts are
// in every build rather than behind a macro that every translation unit of a program would
// have to agree on.

#include <atomic>

namespace memloc::detail::test_hooks {

inline std::atomic<long> sample_id_checks{0};  // caller ids checked by check_ids
inline std::atomic<long> score_checks{0};      // score vectors checked by analysis::check_scores
inline std::atomic<long> host_copies{0};       // analysis inputs copied into host vectors
inline std::atomic<long> sslmem_score_sets{0}; // sets of SSLMem scores computed on the host

inline void count(std::atomic<long>& counter) noexcept { counter.fetch_add(1, std::memory_order_relaxed); }

}  // namespace memloc::detail::test_hooks
