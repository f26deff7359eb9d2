#include <memloc/memloc.hpp>

#include "bodies/classmem_bodies.hpp"

namespace testing {
TEST_CASE_TEMPLATE_INVOKE(classmem_oracle, host_backend);
TEST_CASE_TEMPLATE_INVOKE(classmem_hand, host_backend);
TEST_CASE_TEMPLATE_INVOKE(classmem_class_counts, host_backend);
TEST_CASE_TEMPLATE_INVOKE(classmem_nan, host_backend);
TEST_CASE_TEMPLATE_INVOKE(classmem_streaming, host_backend);
TEST_CASE_TEMPLATE_INVOKE(classmem_many_classes, host_backend);
}  // namespace testing
