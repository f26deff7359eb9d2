#pragma once

// LayerMem on the device: every point's SSLMem scores into one scratch buffer, the subset
// (all, the host's random draw, or the top / least by a stable sort), fixed-order means, and
// the outputs (and the scores, where the caller wants them), written only if no problem was
// found. Scratch is allocated per call.

#include <cuda_runtime_api.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "memloc/detail/alignment_checks.hpp"
#include "memloc/detail/cuda/launch.cuh"
#include "memloc/detail/cuda/ranking.cuh"
#include "memloc/detail/cuda/runtime.cuh"
#include "memloc/detail/cuda/sslmem_scores.cuh"
#include "memloc/detail/layermem_ranking.hpp"
#include "memloc/detail/ranking.hpp"
#include "memloc/kernels/sslmem.cuh"
#include "memloc/layermem_types.hpp"

namespace memloc::detail::cuda {

template <class PointSpace, class OutSpace>
void layermem(cudaStream_t stream, const std::vector<measurement_point<PointSpace>>& points, index_t samples,
              const vector_view<double, OutSpace>& layermem_out, const vector_view<double, OutSpace>& delta_out,
              const vector_view<std::int64_t, OutSpace>& subset_out, const layermem_options& options,
              const std::vector<vector_view<double, OutSpace>>& sslmem_out, const char* function) {
  const auto count = static_cast<index_t>(points.size());
  sslmem_scoring scoring(count, samples, stream, function);
  for (const auto& point : points) scoring.score(point.ssl_f, point.ssl_g, options.score, stream, function);

  const sample_subset& subset = options.subset;
  const std::int64_t* members = nullptr;  // null: every sample, in index order
  const index_t chosen = layermem_subset_size(subset, samples);
  std::vector<index_t> drawn;
  device_array<std::int64_t> drawn_on_device;
  std::optional<score_order<std::int64_t>> ranking;
  switch (subset.kind) {
    case subset_kind::all: break;
    case subset_kind::random:
      // The host's draw, so that both backends average over the same samples.
      drawn = random_subset(samples, subset.k, subset.seed);
      drawn_on_device = device_array<std::int64_t>(chosen, function);
      check(cudaMemcpyAsync(drawn_on_device.data(), drawn.data(), drawn_on_device.bytes(), cudaMemcpyHostToDevice,
                            stream),
            function, "cudaMemcpyAsync");
      members = drawn_on_device.data();
      break;
    case subset_kind::top:
    case subset_kind::least:
      ranking.emplace(samples, function);
      members = ranking->order(scoring.scores(rank_point_index(subset, count)), 1, subset.kind == subset_kind::top,
                               stream, function);
      break;
  }

  device_array<double> means(count, function);
  launch(function, "the LayerMem mean kernel", kernels::subset_means<>, kernels::grid_for(count, 1),
         kernels::block_threads, 0, stream, scoring.scores(0), samples, count, members, chosen, means.data());
  const kernels::layermem_outputs out{device_view_of(layermem_out), device_view_of(delta_out),
                                      device_view_of(subset_out)};
  launch(function, "the LayerMem output kernel", kernels::write_layermem<>,
         kernels::grid_for(count > chosen ? count : chosen), kernels::block_threads, 0, stream, means.data(), count,
         members, chosen, out, scoring.report());
  for (std::size_t p = 0; p < sslmem_out.size(); ++p) {
    launch(function, "the output kernel", kernels::store_scores<>, kernels::grid_for(samples), kernels::block_threads, 0,
           stream, scoring.scores(static_cast<index_t>(p)), samples, sslmem_out[p].data_handle(), sslmem_out[p].stride(0),
           scoring.report());
  }
  scoring.raise_problems(options.score, stream, function);
}

}  // namespace memloc::detail::cuda
