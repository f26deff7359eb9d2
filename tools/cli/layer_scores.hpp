#pragma once

// LayerMem over the command's measurement points, once their alignments are folded: one call
// of memloc::layermem, which also hands back each point's SSLMem scores for the report, so
// no point is scored twice.

#include <cstdint>
#include <vector>

#include <memloc/layermem.hpp>

#include "folds.hpp"

namespace memloc::cli {

struct layer_scores {
  std::vector<double> layermem, delta;
  std::vector<std::int64_t> members;  // the samples averaged over (the subset)
};

// Fills every point's `scores` and returns LayerMem, ΔLayerMem and the subset.
inline layer_scores score_points(const host_exec& exec, std::vector<point_result>& points, const layermem_options& options) {
  const auto samples = static_cast<index_t>(points.front().ssl_f.size());
  const auto count = static_cast<index_t>(points.size());
  std::vector<measurement_point<>> measured;
  std::vector<vector_view<double>> scores;
  for (auto& p : points) {
    p.scores.resize(p.ssl_f.size());
    measured.push_back({p.name, make_vector_view(static_cast<const double*>(p.ssl_f.data()), samples),
                        make_vector_view(static_cast<const double*>(p.ssl_g.data()), samples)});
    scores.push_back(make_vector_view(p.scores.data(), samples));
  }
  layer_scores r;
  r.layermem.resize(static_cast<std::size_t>(count));
  r.delta.resize(static_cast<std::size_t>(count));
  r.members.resize(static_cast<std::size_t>(layermem_subset_size(options.subset, samples)));
  layermem(exec, measured, make_vector_view(r.layermem.data(), count), make_vector_view(r.delta.data(), count),
           make_vector_view(r.members.data(), static_cast<index_t>(r.members.size())), options, scores);
  return r;
}

}  // namespace memloc::cli
