#pragma once

// UnitMem types shared by the host and CUDA backends: no backend code, so nvcc and a host
// compiler can both include them.

#include <cstdint>

#include "core.hpp"

namespace memloc {

// The layer an accumulator measures and the id space of its samples.
struct unitmem_shape {
  index_t samples = 0;    // sample ids lie in [0, samples)
  index_t units = 0;      // channels or neurons
  index_t views = 0;      // augmentations per sample
  index_t positions = 1;  // H*W of a conv map, tokens of a transformer, 1 for a dense layer
};

// Caller-allocated outputs, one contiguous element per unit. Only `unitmem` is required;
// the others are written when given.
template <class Space = host_space>
struct unitmem_outputs {
  vector_view<double, Space> unitmem{};
  vector_view<double, Space> mu_max{};
  vector_view<std::int64_t, Space> argmax{};  // sample id of μ_max (the first id on ties)
  vector_view<double, Space> mu_rest{};       // μ_-max
};

struct unitmem_report {
  index_t samples = 0;                     // |D'|: distinct samples folded
  index_t units = 0;
  index_t nan_units = 0;                   // units whose UnitMem is NaN, for any reason
  index_t negative_denominator_units = 0;  // NaN because μ_max + μ_-max <= 0 (negative activations)
};

template <class Space>
class unitmem_accumulator;

}  // namespace memloc
