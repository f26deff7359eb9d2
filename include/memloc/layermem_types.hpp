#pragma once

// LayerMem types shared by the host and CUDA backends.

#include <string>

#include "core.hpp"

namespace memloc {

// One measurement point: its name and the alignments of f and g there, one per sample
// (sample i is the same training point at every measurement point).
template <class Space = host_space>
struct measurement_point {
  std::string name;
  vector_view<const double, Space> ssl_f;
  vector_view<const double, Space> ssl_g;
};

// Number of samples LayerMem averages over for `samples` samples.
inline index_t layermem_subset_size(const sample_subset& subset, index_t samples) noexcept {
  return subset.kind == subset_kind::all ? samples : subset.k;
}

}  // namespace memloc
