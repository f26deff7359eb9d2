#pragma once

// LayerMem and ΔLayerMem (LOC Eqs. 2-4) over an ordered list of measurement points:
// LayerMem(l) is the mean SSLMem score (Eq. 2 by default) over a subset D' of samples, and
// ΔLayerMem(l) = LayerMem(l) - LayerMem(previous point in the list).

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "core.hpp"
#include "detail/host/sslmem_scores.hpp"
#include "detail/ranking.hpp"
#include "detail/validate.hpp"
#include "sslmem.hpp"

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

// layermem(p) and delta(p) per point p (delta(0) is NaN: the first point has no
// predecessor). subset, when given, receives the samples averaged over: in rank order for
// top and least (most / least memorized first), in increasing index order otherwise.
template <class PointSpace, class OutSpace>
void layermem(const host_exec&, const std::vector<measurement_point<PointSpace>>& points,
              const vector_view<double, OutSpace>& layermem_out, const vector_view<double, OutSpace>& delta_out,
              const vector_view<std::int64_t, OutSpace>& subset_out, const layermem_options& options = {}) {
  static_assert(host_accessible_v<PointSpace> && host_accessible_v<OutSpace>, "host_exec needs host or managed memory");
  constexpr const char* fn = "memloc::layermem";
  const index_t count = static_cast<index_t>(points.size());
  detail::check_at_least(fn, "points.size()", 1, count);
  detail::check_sslmem_options(fn, options.score);
  detail::check_enum(fn, "options.subset.kind", options.subset.kind, subset_kind::least);
  const index_t samples = points[0].ssl_f.extent(0);
  std::set<std::string> names;
  for (index_t p = 0; p < count; ++p) {
    const auto& point = points[static_cast<std::size_t>(p)];
    if (point.name.empty()) detail::fail(fn, "points[", p, "].name must be non-empty, got \"\"");
    if (!names.insert(point.name).second) detail::fail(fn, "points[", p, "].name must be unique, got \"", point.name, "\" again");
    detail::check_ssl_inputs(fn, point.ssl_f, point.ssl_g);
    detail::check_extent(fn, point.name.c_str(), 0, "samples, as at the first point", samples, point.ssl_f.extent(0));
  }
  detail::check_at_least(fn, "samples at each point", 1, samples);
  const sample_subset& subset = options.subset;
  if (subset.kind != subset_kind::all && (subset.k < 1 || subset.k > samples)) {
    detail::fail(fn, "options.subset.k must be in [1, ", samples, "], got ", subset.k);
  }
  if (subset.rank_point < -1 || subset.rank_point >= count) {
    detail::fail(fn, "options.subset.rank_point must be -1 (the last point) or in [0, ", count, "), got ", subset.rank_point);
  }
  detail::check_output(fn, "layermem_out", layermem_out, count);
  detail::check_output(fn, "delta_out", delta_out, count);
  const index_t chosen = layermem_subset_size(subset, samples);
  detail::check_optional_output(fn, "subset_out", subset_out, chosen);
  detail::check_outputs_disjoint(fn, {detail::range_of("layermem_out", layermem_out), detail::range_of("delta_out", delta_out),
                                      detail::range_of("subset_out", subset_out)});

  std::vector<std::vector<double>> scores(static_cast<std::size_t>(count));
  for (index_t p = 0; p < count; ++p) {
    const auto& point = points[static_cast<std::size_t>(p)];
    detail::host::sslmem_scores(fn, point.ssl_f, point.ssl_g, options.score, scores[static_cast<std::size_t>(p)]);
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
      const index_t rank_point = subset.rank_point < 0 ? count - 1 : subset.rank_point;
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
}

}  // namespace memloc
