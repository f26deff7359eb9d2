#include <memloc/memloc.hpp>

#include "bodies/alignment_bodies.hpp"

namespace testing {
TEST_CASE_TEMPLATE_INVOKE(alignment_oracle, host_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_hand, host_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_double, host_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_nan, host_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_cancellation, host_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_streaming, host_backend);
TEST_CASE_TEMPLATE_INVOKE(sslmem_cases, host_backend);
TEST_CASE_TEMPLATE_INVOKE(sslmem_in_place, host_backend);
TEST_CASE_TEMPLATE_INVOKE(layermem_cases, host_backend);
TEST_CASE_TEMPLATE_INVOKE(layermem_spec, host_backend);
TEST_CASE_TEMPLATE_INVOKE(layermem_ranking, host_backend);
}  // namespace testing

#include "allocation_count.hpp"

namespace testing {

// Issue 16: sslmem writes its scores into out itself; the range and max normalisations read
// the alignments again for their statistics instead of keeping copies of them.
TEST_CASE("sslmem: scores go straight into out, with no working copy") {
  const auto f = random_values(301, 21, 0.0, 3.0);
  const auto g = random_values(301, 22, 0.0, 3.0);
  const auto n = static_cast<index_t>(f.size());
  for (const auto how : {memloc::sslmem_normalization::none, memloc::sslmem_normalization::ratio,
                         memloc::sslmem_normalization::range, memloc::sslmem_normalization::max}) {
    const auto expected = oracle::sslmem(f, g, to_oracle(how));
    const std::string label = "normalization " + std::to_string(static_cast<int>(how));
    std::vector<double> out(f.size(), -7.0);
    const std::size_t before = heap_allocations();
    memloc::sslmem(memloc::host_exec{}, memloc::make_vector_view(f.data(), n), memloc::make_vector_view(g.data(), n),
                   memloc::make_vector_view(out.data(), n), {how});
    CHECK_MESSAGE(heap_allocations() == before, label);
    check_close(out, expected, 1e-14, 1e-15, label);
  }
}

}  // namespace testing
