#pragma once

// Argument checks of alignment, SSLMem and LayerMem that read no data, shared by the host
// and CUDA backends so that both accept and reject the same arguments with the same
// messages. Checks that read values (ids, distances) live with each backend: the host reads
// them where they are, the CUDA backend on the device.

#include <set>
#include <string>
#include <vector>

#include "../alignment_types.hpp"
#include "../layermem_types.hpp"
#include "../options.hpp"
#include "formulas.hpp"
#include "validate.hpp"

namespace memloc::detail {

// ---- alignment ---------------------------------------------------------------------------

// f_batch and g_batch against the accumulator's shape and each other.
template <class FView, class GView>
void check_alignment_batch(const char* fn, const alignment_shape& shape, const FView& f, const GView& g) {
  auto check_one = [&](const char* name, const auto& batch) {
    check_view(fn, name, batch);
    check_extent(fn, name, 1, "views", shape.views, batch.extent(1));
    check_extent(fn, name, 2, "features", shape.features, batch.extent(2));
  };
  check_one("f_batch", f);
  check_one("g_batch", g);
  check_extent(fn, "g_batch", 0, "samples, as in f_batch", f.extent(0), g.extent(0));
}

// The ids of a batch by their extent, for a backend that checks their values elsewhere.
template <class IdView>
void check_id_extents(const char* fn, const IdView& ids, index_t batch_samples) {
  check_view(fn, "sample_ids", ids);
  check_extent(fn, "sample_ids", 0, "one id per batch sample", batch_samples, ids.extent(0));
}

template <class Accumulator>
void check_alignment_mergeable(const Accumulator& mine, const Accumulator& other) {
  constexpr const char* fn = "memloc::alignment_accumulator::merge";
  check_not_self(fn, &mine, &other);
  check_same(fn, "shape().samples", mine.shape().samples, other.shape().samples);
  check_same(fn, "shape().views", mine.shape().views, other.shape().views);
  check_same(fn, "shape().features", mine.shape().features, other.shape().features);
  check_same(fn, "options().distance", mine.options().distance, other.options().distance);
  check_same(fn, "options().pairs", mine.options().pairs, other.options().pairs);
}

template <class Out>
void check_alignment_outputs(const alignment_shape& shape, const Out& ssl_f, const Out& ssl_g) {
  constexpr const char* fn = "memloc::alignment_accumulator::finalize";
  check_output(fn, "ssl_f", ssl_f, shape.samples);
  check_output(fn, "ssl_g", ssl_g, shape.samples);
  check_outputs_disjoint(fn, {range_of("ssl_f", ssl_f), range_of("ssl_g", ssl_g)});
}

// The one-shot alignment's input, named as its own argument.
template <class View>
alignment_shape one_shot_alignment_shape(const View& f) {
  check_minimum_extents("memloc::alignment", "f", f, {1, 2, 1}, {"samples", "views", "features"});
  return {f.extent(0), f.extent(1), f.extent(2)};
}

// ---- SSLMem --------------------------------------------------------------------------------

inline void check_sslmem_options(const char* fn, const sslmem_options& options) {
  check_enum(fn, "options.normalization", options.normalization, sslmem_normalization::max);
}

template <class F, class G>
void check_ssl_views(const char* fn, const F& ssl_f, const G& ssl_g) {
  check_view(fn, "ssl_f", ssl_f);
  check_view(fn, "ssl_g", ssl_g);
  check_extent(fn, "ssl_g", 0, "samples, as in ssl_f", ssl_f.extent(0), ssl_g.extent(0));
}

// The statistics the range and max normalisations divide by, as errors name them.
inline constexpr const char* range_statistic = "the range of SSL_g - SSL_f (max - min)";
inline constexpr const char* max_f_statistic = "max SSL_f";
inline constexpr const char* max_g_statistic = "max SSL_g";
inline constexpr const char* max_difference_statistic = "max of SSL_g/max SSL_g - SSL_f/max SSL_f";

inline void check_set_statistic(const char* fn, const char* what, set_division division, double statistic) {
  if (division == set_division::invalid) fail(fn, what, " must be > 0 to normalise the scores, got ", statistic);
}

// ---- LayerMem ------------------------------------------------------------------------------

// Every check of layermem's arguments, in order; check_values(point) checks a point's
// alignments where the backend reads them. Returns the number of samples.
template <class PointSpace, class OutSpace, class CheckValues>
index_t check_layermem_arguments(const std::vector<measurement_point<PointSpace>>& points,
                                 const vector_view<double, OutSpace>& layermem_out,
                                 const vector_view<double, OutSpace>& delta_out,
                                 const vector_view<std::int64_t, OutSpace>& subset_out, const layermem_options& options,
                                 const std::vector<vector_view<double, OutSpace>>& sslmem_out, CheckValues&& check_values) {
  constexpr const char* fn = "memloc::layermem";
  const index_t count = static_cast<index_t>(points.size());
  check_at_least(fn, "points.size()", 1, count);
  check_sslmem_options(fn, options.score);
  check_enum(fn, "options.subset.kind", options.subset.kind, subset_kind::least);
  const index_t samples = points[0].ssl_f.extent(0);
  std::set<std::string> names;
  for (index_t p = 0; p < count; ++p) {
    const auto& point = points[static_cast<std::size_t>(p)];
    if (point.name.empty()) fail(fn, "points[", p, "].name must be non-empty, got \"\"");
    if (!names.insert(point.name).second) fail(fn, "points[", p, "].name must be unique, got \"", point.name, "\" again");
    check_ssl_views(fn, point.ssl_f, point.ssl_g);
    check_values(point);
    check_extent(fn, point.name.c_str(), 0, "samples, as at the first point", samples, point.ssl_f.extent(0));
  }
  check_at_least(fn, "samples at each point", 1, samples);
  const sample_subset& subset = options.subset;
  if (subset.kind != subset_kind::all && (subset.k < 1 || subset.k > samples)) {
    fail(fn, "options.subset.k must be in [1, ", samples, "], got ", subset.k);
  }
  if (subset.rank_point < -1 || subset.rank_point >= count) {
    fail(fn, "options.subset.rank_point must be -1 (the last point) or in [0, ", count, "), got ", subset.rank_point);
  }
  check_output(fn, "layermem_out", layermem_out, count);
  check_output(fn, "delta_out", delta_out, count);
  check_optional_output(fn, "subset_out", subset_out, layermem_subset_size(subset, samples));
  if (!sslmem_out.empty() && static_cast<index_t>(sslmem_out.size()) != count) {
    fail(fn, "sslmem_out.size() must be 0 (no scores wanted) or ", count, " (one per point), got ", sslmem_out.size());
  }
  std::vector<std::string> names_out;
  for (std::size_t p = 0; p < sslmem_out.size(); ++p) names_out.push_back("sslmem_out[" + std::to_string(p) + "]");
  std::vector<output_range> outputs{range_of("layermem_out", layermem_out), range_of("delta_out", delta_out),
                                    range_of("subset_out", subset_out)};
  for (std::size_t p = 0; p < sslmem_out.size(); ++p) {
    check_output(fn, names_out[p].c_str(), sslmem_out[p], samples);
    outputs.push_back(range_of(names_out[p].c_str(), sslmem_out[p]));
  }
  check_outputs_disjoint(fn, outputs);
  return samples;
}

}  // namespace memloc::detail
