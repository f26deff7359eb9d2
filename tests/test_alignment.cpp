#include <memloc/memloc.hpp>

#include "bodies/alignment_bodies.hpp"

namespace testing {
TEST_CASE_TEMPLATE_INVOKE(alignment_oracle, host_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_hand, host_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_double, host_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_nan, host_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_streaming, host_backend);
TEST_CASE_TEMPLATE_INVOKE(sslmem_cases, host_backend);
TEST_CASE_TEMPLATE_INVOKE(layermem_cases, host_backend);
TEST_CASE_TEMPLATE_INVOKE(layermem_spec, host_backend);
TEST_CASE_TEMPLATE_INVOKE(layermem_ranking, host_backend);
}  // namespace testing
