#pragma once

// LayerMem and ΔLayerMem (LOC Eqs. 2-4) over measurement points in device memory: the CUDA
// backend of layermem.hpp, with the same options, subsets and messages.

#include <cstdint>
#include <vector>

#include "core.hpp"
#include "cuda_exec.cuh"
#include "detail/alignment_checks.hpp"
#include "detail/cuda/layermem.cuh"
#include "layermem_types.hpp"

namespace memloc {

// layermem(p) and delta(p) per point p (delta(0) is NaN), subset as on the host: rank order
// for top and least, increasing index order otherwise. The alignments are checked on the
// device; the call waits for the stream at its end, and leaves every output unwritten when
// it throws. Scratch memory is allocated per call. sslmem_out, when given (one view per
// point), receives each point's SSLMem scores, as on the host.
template <class PointSpace, class OutSpace>
void layermem(const cuda_exec& exec, const std::vector<measurement_point<PointSpace>>& points,
              const vector_view<double, OutSpace>& layermem_out, const vector_view<double, OutSpace>& delta_out,
              const vector_view<std::int64_t, OutSpace>& subset_out, const layermem_options& options = {},
              const std::vector<vector_view<double, OutSpace>>& sslmem_out = {}) {
  static_assert(device_accessible_v<PointSpace> && device_accessible_v<OutSpace>,
                "cuda_exec needs device or managed memory (measurement points and outputs)");
  constexpr const char* fn = "memloc::layermem";
  const index_t samples = detail::check_layermem_arguments(points, layermem_out, delta_out, subset_out, options,
                                                           sslmem_out, [](const measurement_point<PointSpace>&) {});
  detail::cuda::layermem(exec.stream, points, samples, layermem_out, delta_out, subset_out, options, sslmem_out, fn);
}

}  // namespace memloc
