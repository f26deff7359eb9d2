// The ClassMem test bodies on the CUDA backend.

#include "cuda_support.cuh"

#include "../bodies/classmem_bodies.hpp"

namespace testing {
TEST_CASE_TEMPLATE_INVOKE(classmem_oracle, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(classmem_hand, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(classmem_class_counts, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(classmem_nan, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(classmem_many_classes, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(classmem_streaming, cuda_backend);
}  // namespace testing
