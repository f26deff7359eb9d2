// The UnitMem test bodies on the CUDA backend, against the same oracle and tolerances as the
// host backend.

#include "cuda_support.cuh"

#include "../bodies/unitmem_bodies.hpp"

namespace testing {
TEST_CASE_TEMPLATE_INVOKE(unitmem_oracle, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_spec_vectors, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_policy, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_ties, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_edges, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_streaming, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_properties, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_fold_paths, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_direct_mu, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_deterministic, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_per_sample_shapes, cuda_backend);
}  // namespace testing
