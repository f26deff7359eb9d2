// The UnitMem and ClassMem argument checks on the CUDA backend (the alignment, SSLMem and
// LayerMem checks run in test_alignment.cu).

#include "cuda_support.cuh"

#include "../bodies/validation_bodies.hpp"

namespace testing {
TEST_CASE_TEMPLATE_INVOKE(validation_unitmem_construct, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(validation_unitmem_use, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(validation_classmem, cuda_backend);
}  // namespace testing
