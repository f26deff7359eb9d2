#include <memloc/memloc.hpp>

#include "bodies/validation_bodies.hpp"

namespace testing {
TEST_CASE_TEMPLATE_INVOKE(validation_unitmem_construct, host_backend);
TEST_CASE_TEMPLATE_INVOKE(validation_unitmem_use, host_backend);
TEST_CASE_TEMPLATE_INVOKE(validation_classmem, host_backend);
TEST_CASE_TEMPLATE_INVOKE(validation_alignment, host_backend);
}  // namespace testing
