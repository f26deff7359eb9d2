#pragma once

// LayerMem and ΔLayerMem (LOC Eqs. 2-4) over an ordered list of measurement points:
// LayerMem(l) is the mean SSLMem score (Eq. 2 by default) over a subset D' of samples, and
// ΔLayerMem(l) = LayerMem(l) - LayerMem(previous point in the list).

#include <cmath>
#include <numeric>
#include <vector>

#include "core.hpp"
#include "detail/alignment_checks.hpp"
#include "detail/host/sslmem_scores.hpp"
#include "detail/layermem_ranking.hpp"
#include "detail/ranking.hpp"
#include "detail/validate.hpp"
#include "layermem_types.hpp"
#include "sslmem.hpp"

namespace memloc {

// layermem(p) and delta(p) per point p (delta(0) is NaN: the first point has no
// predecessor). subset, when given, receives the samples averaged over: in rank order for
// top and least (most / least memorized first), in increasing index order otherwise.
// sslmem_out, when given (one view per point), receives each point's SSLMem scores, the
// values LayerMem averages, so a caller who reports them does not score the points again.
// Every output is written after every check and score has succeeded.
template <class PointSpace, class OutSpace>
void layermem(const host_exec&, const std::vector<measurement_point<PointSpace>>& points,
              const vector_view<double, OutSpace>& layermem_out, const vector_view<double, OutSpace>& delta_out,
              const vector_view<std::int64_t, OutSpace>& subset_out, const layermem_options& options = {},
              const std::vector<vector_view<double, OutSpace>>& sslmem_out = {}) {
  static_assert(host_accessible_v<PointSpace> && host_accessible_v<OutSpace>, "host_exec needs host or managed memory");
  constexpr const char* fn = "memloc::layermem";
  const index_t count = static_cast<index_t>(points.size());
  const index_t samples = detail::check_layermem_arguments(
      points, layermem_out, delta_out, subset_out, options, sslmem_out,
      [&](const measurement_point<PointSpace>& point) { detail::check_ssl_values(fn, point.ssl_f, point.ssl_g); });
  const sample_subset& subset = options.subset;

  // Scored into scratch, not into sslmem_out directly: an output may alias a later point's
  // alignments, and a later point's normalisation may still fail.
  std::vector<std::vector<double>> scores(static_cast<std::size_t>(count));
  for (index_t p = 0; p < count; ++p) {
    const auto& point = points[static_cast<std::size_t>(p)];
    auto& into = scores[static_cast<std::size_t>(p)];
    into.resize(static_cast<std::size_t>(samples));
    detail::host::sslmem_scores(fn, point.ssl_f, point.ssl_g, options.score, make_vector_view(into.data(), samples));
  }

  std::vector<index_t> members;
  switch (subset.kind) {
    case subset_kind::all:
      members.resize(static_cast<std::size_t>(samples));
      std::iota(members.begin(), members.end(), index_t{0});
      break;
    case subset_kind::random:
      members = detail::random_subset(samples, subset.k, subset.seed);
      break;
    case subset_kind::top:
    case subset_kind::least: {
      const index_t rank_point = detail::rank_point_index(subset, count);
      members = detail::order_by_score(scores[static_cast<std::size_t>(rank_point)], subset.kind == subset_kind::top);
      members.resize(static_cast<std::size_t>(subset.k));
      break;
    }
  }

  for (index_t p = 0; p < count; ++p) {
    double sum = 0.0;
    for (const index_t i : members) sum += scores[static_cast<std::size_t>(p)][static_cast<std::size_t>(i)];
    layermem_out(p) = sum / static_cast<double>(members.size());
    delta_out(p) = p == 0 ? static_cast<double>(NAN) : layermem_out(p) - layermem_out(p - 1);
  }
  if (detail::is_given(subset_out)) {
    for (std::size_t i = 0; i < members.size(); ++i) subset_out(static_cast<index_t>(i)) = members[i];
  }
  for (std::size_t p = 0; p < sslmem_out.size(); ++p) {
    for (index_t i = 0; i < samples; ++i) sslmem_out[p](i) = scores[p][static_cast<std::size_t>(i)];
  }
}

}  // namespace memloc
