// Host-side rules of the CUDA layer that need no device: the launch configuration check of
// the one launch helper, and the guard on the update count that orders the device's
// reports of bad rows.

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include <memloc/detail/formulas.hpp>
#include <memloc/detail/launch_limits.hpp>
#include <memloc/detail/validate.hpp>
#include <memloc/error.hpp>

namespace {

using memloc::detail::launch_extent;
using memloc::detail::launch_limits;

// The limits of every device of compute capability 7.0 and later.
constexpr launch_limits typical{1024, {1024, 1024, 64}, {2147483647, 65535, 65535}, 49152};

std::string refusal(launch_extent grid, launch_extent block, std::size_t shared_bytes) {
  try {
    memloc::detail::check_launch_configuration("memloc::unitmem", "the μ fold kernel", typical, grid, block,
                                               shared_bytes);
  } catch (const memloc::cuda_error& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("the launch check accepts configurations within the device's limits") {
  CHECK(refusal({1, 1, 1}, {1, 1, 1}, 0).empty());
  CHECK(refusal({1u << 20, 64, 1}, {256, 1, 1}, 24 * 256 * 8).empty());
  CHECK(refusal({2147483647u, 65535, 65535}, {1024, 1, 1}, 49152).empty());
  CHECK(refusal({1, 1, 1}, {16, 16, 4}, 0).empty());
}

TEST_CASE("the launch check names the function, the kernel, the limit and the value") {
  CHECK(refusal({1, 1, 1}, {2048, 1, 1}, 0) ==
        "memloc::unitmem: the μ fold kernel launch: block threads must be at most 1024 "
        "(cudaDevAttrMaxThreadsPerBlock), got 2048");
  CHECK(refusal({1, 1, 1}, {64, 32, 1}, 0) ==
        "memloc::unitmem: the μ fold kernel launch: block threads must be at most 1024 "
        "(cudaDevAttrMaxThreadsPerBlock), got 2048");
  CHECK(refusal({1, 1, 1}, {1, 1, 128}, 0) ==
        "memloc::unitmem: the μ fold kernel launch: block.z must be at most 64 (cudaDevAttrMaxBlockDimZ), got 128");
  CHECK(refusal({1, 65536, 1}, {256, 1, 1}, 0) ==
        "memloc::unitmem: the μ fold kernel launch: grid.y must be at most 65535 (cudaDevAttrMaxGridDimY), got 65536");
  CHECK(refusal({1, 1, 70000}, {256, 1, 1}, 0) ==
        "memloc::unitmem: the μ fold kernel launch: grid.z must be at most 65535 (cudaDevAttrMaxGridDimZ), got 70000");
  CHECK(refusal({0, 1, 1}, {256, 1, 1}, 0) == "memloc::unitmem: the μ fold kernel launch: grid.x must be >= 1, got 0");
  CHECK(refusal({1, 1, 1}, {256, 0, 1}, 0) == "memloc::unitmem: the μ fold kernel launch: block.y must be >= 1, got 0");
  CHECK(refusal({1, 1, 1}, {256, 1, 1}, 49153) ==
        "memloc::unitmem: the μ fold kernel launch: dynamic shared memory bytes must be at most 49152 "
        "(cudaDevAttrMaxSharedMemoryPerBlock), got 49153");
}

TEST_CASE("the bad-row key keeps the host's order and round-trips up to the last numbered batch") {
  using namespace memloc::detail;
  const long long last = max_keyed_batch;
  CHECK(last == (1LL << 30) - 2);
  const std::int64_t last_row = (std::int64_t{1} << 33) - 1;
  const std::uint64_t key = bad_row_key(last, true, last_row);
  CHECK(~key != 0);  // a complement of 0 is the status record's "no bad row"
  CHECK(bad_row_batch(key) == last);
  CHECK(bad_row_is_label(key));
  CHECK(bad_row_row(key) == last_row);
  // Earlier batch first, then ids before labels, then the lower row.
  CHECK(bad_row_key(1, true, last_row) < bad_row_key(2, false, 0));
  CHECK(bad_row_key(2, false, last_row) < bad_row_key(2, true, 0));
  CHECK(bad_row_key(2, true, 4) < bad_row_key(2, true, 5));
}

TEST_CASE("a device accumulator refuses the update past the last batch number its reports can order") {
  using memloc::detail::max_keyed_batch;
  using memloc::detail::next_batch_number;
  CHECK(next_batch_number("memloc::unitmem_accumulator::update", 0) == 1);
  CHECK(next_batch_number("memloc::unitmem_accumulator::update", max_keyed_batch - 1) == max_keyed_batch);
  CHECK_THROWS_WITH_AS(next_batch_number("memloc::unitmem_accumulator::update", max_keyed_batch),
                       "memloc::unitmem_accumulator::update: update calls since construction or reset must be at most "
                       "1073741822, got 1073741823 (reset the accumulator, or merge it into a fresh one)",
                       memloc::logic_error);
}
