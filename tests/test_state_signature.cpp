// The compatibility check memloc/mpi.hpp and memloc/nccl.cuh run before merging states,
// with the collective simulated on the host: each rank's fields, reduced by MAX over the
// fields and their negations, as either library does it.

#include <doctest/doctest.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <vector>

#include <memloc/detail/state_signature.hpp>
#include <memloc/memloc.hpp>

namespace {

using memloc::detail::state_signature;

// What every rank sees after the two MAX all-reduces, then the check every rank runs.
void check_ranks(const std::vector<state_signature>& ranks) {
  std::int64_t longest = INT64_MIN, shortest_negated = INT64_MIN;
  for (const auto& s : ranks) {
    const auto n = static_cast<std::int64_t>(s.fields().size());
    longest = std::max(longest, n);
    shortest_negated = std::max(shortest_negated, -n);
  }
  const auto max_n = static_cast<std::size_t>(longest);
  std::vector<std::int64_t> reduced(2 * max_n, INT64_MIN);
  for (const auto& s : ranks) {
    const auto mine = memloc::detail::signature_max_input(s, max_n);
    for (std::size_t i = 0; i < mine.size(); ++i) reduced[i] = std::max(reduced[i], mine[i]);
  }
  for (const auto& s : ranks) {
    memloc::detail::check_state_signature("collective", s, reduced, max_n, longest != -shortest_negated);
  }
}

TEST_CASE("state signature: equal accumulators pass, the first differing field is named") {
  const memloc::host_exec x{};
  memloc::unitmem_accumulator a(x, memloc::unitmem_shape{10, 4, 2, 3}), b(x, memloc::unitmem_shape{10, 4, 2, 3});
  memloc::unitmem_accumulator wide(x, memloc::unitmem_shape{10, 5, 2, 3});
  memloc::unitmem_accumulator median(x, memloc::unitmem_shape{10, 4, 2, 3}, {memloc::rest_reduction::median});
  memloc::classmem_accumulator classes(x, memloc::classmem_shape{10, 4, 2, 3, 5});
  auto sig = [](auto& acc) { return memloc::detail::state_signature_of(acc, acc.state_buffers()); };
  CHECK_NOTHROW(check_ranks({sig(a), sig(b)}));
  CHECK_THROWS_WITH_AS(check_ranks({sig(a), sig(wide)}),
                       "collective: shape().units must be equal on every rank, got values from 4 to 5; nothing was merged",
                       memloc::logic_error);
  CHECK_THROWS_WITH_AS(check_ranks({sig(a), sig(median), sig(b)}), doctest::Contains("options().rest must be equal"),
                       memloc::logic_error);
  CHECK_THROWS_WITH_AS(check_ranks({sig(a), sig(classes)}), doctest::Contains("accumulator kind"), memloc::logic_error);
}

}  // namespace
