#pragma once

// ClassMem types shared by the host and CUDA backends.

#include <cstdint>

#include "core.hpp"

namespace memloc {

struct classmem_shape {
  index_t samples = 0;    // sample ids lie in [0, samples)
  index_t units = 0;
  index_t views = 0;
  index_t positions = 1;
  index_t classes = 0;    // labels lie in [0, classes)
};

template <class Space = host_space>
struct classmem_outputs {
  vector_view<double, Space> classmem{};
  vector_view<double, Space> mu_max{};          // the highest class mean
  vector_view<std::int64_t, Space> max_class{}; // its class (the first on ties)
  vector_view<double, Space> mu_rest{};         // mean of the other classes' means
};

struct classmem_report {
  index_t samples = 0;
  index_t units = 0;
  index_t classes_with_samples = 0;
  index_t nan_units = 0;
  index_t negative_denominator_units = 0;
};

template <class Space>
class classmem_accumulator;

}  // namespace memloc
