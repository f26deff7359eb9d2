#include <memloc/memloc.hpp>

#include "bodies/unitmem_bodies.hpp"

namespace testing {
TEST_CASE_TEMPLATE_INVOKE(unitmem_oracle, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_spec_vectors, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_policy, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_ties, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_edges, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_streaming, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_properties, host_backend);
}  // namespace testing
