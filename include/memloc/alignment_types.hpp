#pragma once

// Alignment types shared by the host and CUDA backends.

#include "core.hpp"

namespace memloc {

struct alignment_shape {
  index_t samples = 0;   // sample ids lie in [0, samples)
  index_t views = 0;     // views per sample (>= 2)
  index_t features = 0;  // representation length at this measurement point
};

template <class Space>
class alignment_accumulator;

}  // namespace memloc
