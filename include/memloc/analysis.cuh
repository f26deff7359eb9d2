#pragma once

// The analysis functions of analysis.hpp on device scores, chosen by a cuda_exec argument,
// with the same results and errors. Rankings, top-k sets and their overlaps are computed on
// the device by a stable CUB radix sort (the order of detail::order_by_score: ties by lower
// index, NaN last). The others copy their inputs to the host and run the host algorithm:
// Kendall's τ-b (Knight's merge sort, 0.36 s at n = 1.28 M on one core, against about 10 ms
// to copy the 20 MB), t-tests and summaries (perf-goals' 5 000 vs 5 000 values are 80 kB, less
// than a kernel launch and a wait cost), and the per-unit and per-layer selections (pruning
// masks, layer selection, units and samples), whose vectors hold thousands of values. Every
// call waits for the stream before it returns its host-side result.

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "analysis.hpp"
#include "cuda_exec.cuh"
#include "detail/cuda/launch.cuh"
#include "detail/cuda/ranking.cuh"
#include "detail/cuda/runtime.cuh"
#include "memloc/kernels/analysis.cuh"

namespace memloc {

namespace detail::cuda {

template <class T, class Space>
void check_device_scores() {
  static_assert(analysis::is_score_element_v<T>, "scores must be float or double");
  static_assert(device_accessible_v<Space>, "cuda_exec needs device or managed memory");
}

// A device vector copied to contiguous host memory, waiting for the stream: a strided one is
// packed on the device first (a 2-D copy of one-element rows crawls), a broadcast one
// (stride 0) is one element repeated.
template <class T, class Space>
std::vector<std::remove_const_t<T>> fetch(const vector_view<T, Space>& v, cudaStream_t stream, const char* function) {
  test_hooks::count(test_hooks::host_copies);
  using V = std::remove_const_t<T>;
  const index_t n = v.extent(0);
  std::vector<V> host(static_cast<std::size_t>(n));
  if (n == 0) return host;
  const index_t stride = n > 1 ? v.stride(0) : 1;
  if (stride == 0) {
    V value{};
    copy_to_host(&value, v.data_handle(), sizeof(V), stream, function);
    std::fill(host.begin(), host.end(), value);
    return host;
  }
  device_array<V> packed;
  const V* from = v.data_handle();
  if (stride != 1) {
    packed = device_array<V>(n, function);
    launch(function, "the gather kernel", kernels::gather<V>, kernels::grid_for(n), kernels::block_threads, 0, stream,
           v.data_handle(), stride, n, packed.data());
    from = packed.data();
  }
  copy_to_host(host.data(), from, host.size() * sizeof(V), stream, function);
  return host;
}

template <class T>
vector_view<const T, host_space> host_view(const std::vector<T>& values) {
  return vector_view<const T, host_space>(values.data(), {static_cast<index_t>(values.size())});
}

// Device scores as the contiguous fp64 host vector every host analysis works on, in one copy
// to the host: float scores are widened on the device, in the same pass that packs a strided
// vector.
template <class T, class Space>
std::vector<double> fetch_doubles(const vector_view<T, Space>& scores, cudaStream_t stream, const char* function) {
  if constexpr (std::is_same_v<std::remove_const_t<T>, double>) {
    return fetch(scores, stream, function);
  } else {
    test_hooks::count(test_hooks::host_copies);
    const index_t n = scores.extent(0);
    std::vector<double> host(static_cast<std::size_t>(n));
    if (n == 0) return host;
    device_array<double> widened(n, function);
    launch(function, "the score conversion kernel", kernels::scores_to_doubles<std::remove_const_t<T>>,
           kernels::grid_for(n), kernels::block_threads, 0, stream, scores.data_handle(), n > 1 ? scores.stride(0) : 1,
           n, widened.data());
    copy_to_host(host.data(), widened.data(), host.size() * sizeof(double), stream, function);
    return host;
  }
}

// Device scores ranked on the device: contiguous fp64 copies feed a stable radix sort.
class device_ranker {
 public:
  device_ranker(index_t n, cudaStream_t stream, const char* function)
      : values_(n, function), nan_(1, function), order_(n, function), stream_(stream), function_(function) {}

  template <class T, class Space>
  void load(const vector_view<T, Space>& scores) {
    const index_t n = scores.extent(0);
    launch(function_, "the score conversion kernel", kernels::scores_to_doubles<std::remove_const_t<T>>,
           kernels::grid_for(n), kernels::block_threads, 0, stream_, scores.data_handle(), scores.stride(0), n,
           values_.data());
  }

  // The first `count` indices of the ranking, on the host.
  std::vector<index_t> head(index_t count, rank_direction direction) {
    const auto* ordered = order_.order(values_.data(), 1, direction == rank_direction::top, stream_, function_);
    std::vector<std::int64_t> indices(static_cast<std::size_t>(count));
    copy_to_host(indices.data(), ordered, indices.size() * sizeof(std::int64_t), stream_, function_);
    return std::vector<index_t>(indices.begin(), indices.end());
  }

  index_t nan_count() {
    nan_.zero(stream_, function_);
    launch(function_, "the NaN count kernel", kernels::count_nan<>, kernels::grid_for(values_.size()),
           kernels::block_threads, 0, stream_, values_.data(), values_.size(), nan_.data());
    unsigned long long count = 0;
    copy_to_host(&count, nan_.data(), sizeof count, stream_, function_);
    return static_cast<index_t>(count);
  }

 private:
  device_array<double> values_;
  device_array<unsigned long long> nan_;
  score_order<std::int64_t> order_;
  cudaStream_t stream_;
  const char* function_;
};

}  // namespace detail::cuda

template <class T, class Space>
ranking rank_scores(const cuda_exec& exec, const vector_view<T, Space>& scores,
                    rank_direction direction = rank_direction::top) {
  detail::cuda::check_device_scores<T, Space>();
  constexpr const char* fn = "memloc::rank_scores";
  detail::analysis::check_scores(fn, "scores", scores, 0);
  detail::analysis::check_direction(fn, "direction", direction);
  if (scores.extent(0) == 0) return {};
  detail::cuda::device_ranker ranker(scores.extent(0), exec.stream, fn);
  ranker.load(scores);
  return ranking{ranker.head(scores.extent(0), direction), ranker.nan_count()};
}

template <class T, class Space>
ranking top_k_indices(const cuda_exec& exec, const vector_view<T, Space>& scores, const top_k& k,
                      rank_direction direction = rank_direction::top) {
  detail::cuda::check_device_scores<T, Space>();
  constexpr const char* fn = "memloc::top_k_indices";
  detail::analysis::check_scores(fn, "scores", scores, 1);
  detail::analysis::check_direction(fn, "direction", direction);
  const index_t size = detail::analysis::resolve_k(fn, "k", k, scores.extent(0));
  detail::cuda::device_ranker ranker(scores.extent(0), exec.stream, fn);
  ranker.load(scores);
  return ranking{ranker.head(size, direction), ranker.nan_count()};
}

template <class A, class SA, class B, class SB>
overlap_result top_k_overlap(const cuda_exec& exec, const vector_view<A, SA>& a, const vector_view<B, SB>& b,
                             const top_k& k, rank_direction direction = rank_direction::top) {
  detail::cuda::check_device_scores<A, SA>();
  detail::cuda::check_device_scores<B, SB>();
  constexpr const char* fn = "memloc::top_k_overlap";
  detail::analysis::check_pair(fn, a, b, 1, "a", "b");
  detail::analysis::check_direction(fn, "direction", direction);
  const index_t size = detail::analysis::resolve_k(fn, "k", k, a.extent(0));
  detail::cuda::device_ranker ranker(a.extent(0), exec.stream, fn);
  ranker.load(a);
  const auto top_a = ranker.head(size, direction);
  ranker.load(b);
  const auto top_b = ranker.head(size, direction);
  const index_t count = detail::analysis::intersection_size(detail::analysis::membership(top_a, a.extent(0)), top_b);
  return overlap_result{size, count, static_cast<double>(count) / static_cast<double>(size)};
}

template <class T, class Space>
overlap_matrix top_k_overlap_matrix(const cuda_exec& exec, const std::vector<named_scores<T, Space>>& points,
                                    const top_k& k, rank_direction direction = rank_direction::top) {
  detail::cuda::check_device_scores<T, Space>();
  constexpr const char* fn = "memloc::top_k_overlap_matrix";
  detail::analysis::check_named(fn, "points", points, points.empty() ? 0 : points[0].scores.extent(0));
  detail::analysis::check_direction(fn, "direction", direction);
  const index_t items = points[0].scores.extent(0);
  const index_t size = detail::analysis::resolve_k(fn, "k", k, items);
  detail::cuda::device_ranker ranker(items, exec.stream, fn);
  std::vector<std::string> names;
  std::vector<std::vector<index_t>> tops;
  for (const auto& point : points) {
    names.push_back(point.name);
    ranker.load(point.scores);
    tops.push_back(ranker.head(size, direction));
  }
  return detail::analysis::overlap_matrix_of(std::move(names), tops, items, size);
}

template <class X, class SX, class Y, class SY>
kendall_result kendall_tau_b(const cuda_exec& exec, const vector_view<X, SX>& x, const vector_view<Y, SY>& y,
                             const kendall_options& options = {}) {
  detail::cuda::check_device_scores<X, SX>();
  detail::cuda::check_device_scores<Y, SY>();
  constexpr const char* fn = "memloc::kendall_tau_b";
  detail::analysis::check_pair(fn, x, y, 2);
  detail::analysis::check_kendall_options(fn, options, x.extent(0));
  return detail::analysis::kendall_tau_b(detail::cuda::fetch_doubles(x, exec.stream, fn),
                                         detail::cuda::fetch_doubles(y, exec.stream, fn), options, fn);
}

template <class X, class SX, class Y, class SY>
kendall_result kendall_tau_b_top_k_union(const cuda_exec& exec, const vector_view<X, SX>& x,
                                         const vector_view<Y, SY>& y, const top_k& k,
                                         rank_direction direction = rank_direction::top,
                                         const kendall_options& options = {}) {
  detail::cuda::check_device_scores<X, SX>();
  detail::cuda::check_device_scores<Y, SY>();
  constexpr const char* fn = "memloc::kendall_tau_b_top_k_union";
  detail::analysis::check_pair(fn, x, y, 1);
  detail::analysis::check_direction(fn, "direction", direction);
  const index_t size = detail::analysis::resolve_k(fn, "k", k, x.extent(0));
  return detail::analysis::kendall_tau_b_top_k_union(fn, detail::cuda::fetch_doubles(x, exec.stream, fn),
                                                     detail::cuda::fetch_doubles(y, exec.stream, fn), size, direction,
                                                     options);
}

template <class T, class Space>
sample_summary summarize(const cuda_exec& exec, const vector_view<T, Space>& values) {
  detail::cuda::check_device_scores<T, Space>();
  constexpr const char* fn = "memloc::summarize";
  detail::analysis::check_scores(fn, "values", values, 0);
  return detail::analysis::summarize(detail::cuda::fetch_doubles(values, exec.stream, fn));
}

template <class A, class SA, class B, class SB>
t_test_result t_test(const cuda_exec& exec, const vector_view<A, SA>& a, const vector_view<B, SB>& b,
                     const t_test_options& options = {}) {
  detail::cuda::check_device_scores<A, SA>();
  detail::cuda::check_device_scores<B, SB>();
  constexpr const char* fn = "memloc::t_test";
  detail::analysis::check_t_test_options(fn, options);
  detail::analysis::check_scores(fn, "a", a, 2);
  detail::analysis::check_scores(fn, "b", b, 2);
  return detail::analysis::t_test(detail::analysis::summarize(detail::cuda::fetch_doubles(a, exec.stream, fn)),
                                  detail::analysis::summarize(detail::cuda::fetch_doubles(b, exec.stream, fn)), options);
}

template <class T, class Space>
unit_masks pruning_masks(const cuda_exec& exec, const std::vector<named_scores<T, Space>>& layers,
                         const pruning_options& options = {}) {
  detail::cuda::check_device_scores<T, Space>();
  constexpr const char* fn = "memloc::pruning_masks";
  // In the host's order: the options before the layers.
  detail::check_enum(fn, "options.selection", options.selection, prune_selection::random);
  detail::check_enum(fn, "options.scope", options.scope, prune_scope::total);
  detail::analysis::check_named(fn, "layers", layers, -1);
  std::vector<std::string> names;
  std::vector<std::vector<double>> values;
  for (const auto& layer : layers) {
    names.push_back(layer.name);
    values.push_back(detail::cuda::fetch_doubles(layer.scores, exec.stream, fn));
  }
  return detail::analysis::pruning_masks(fn, std::move(names), values, options);
}

template <class T, class Space>
layer_selection select_layers(const cuda_exec& exec, const std::vector<std::string>& names,
                              const vector_view<T, Space>& values, index_t count,
                              rank_direction direction = rank_direction::top) {
  detail::cuda::check_device_scores<T, Space>();
  constexpr const char* fn = "memloc::select_layers";
  detail::analysis::check_select_layers(fn, names, values, count, direction);
  return detail::analysis::select_layers(names, detail::cuda::fetch_doubles(values, exec.stream, fn), count, direction);
}

template <class U, class SU, class I, class SI, class S, class SS>
unit_sample_links units_to_samples(const cuda_exec& exec, const vector_view<U, SU>& unitmem,
                                   const vector_view<I, SI>& argmax, const vector_view<S, SS>& sample_scores,
                                   const top_k& top_units) {
  detail::cuda::check_device_scores<U, SU>();
  detail::cuda::check_device_scores<S, SS>();
  static_assert(detail::is_index_element_v<I>, "argmax ids must be integers");
  static_assert(device_accessible_v<SI>, "cuda_exec needs device or managed memory");
  constexpr const char* fn = "memloc::units_to_samples";
  detail::analysis::check_scores(fn, "unitmem", unitmem, 1);
  detail::analysis::check_scores(fn, "sample_scores", sample_scores, 1);
  detail::check_view(fn, "argmax", argmax);
  detail::check_extent(fn, "argmax", 0, detail::analysis::argmax_meaning, unitmem.extent(0), argmax.extent(0));
  // The ids are read, to be checked against the samples, on the host.
  const auto ids = detail::cuda::fetch(argmax, exec.stream, fn);
  detail::check_index_values(fn, "argmax", detail::cuda::host_view(ids), sample_scores.extent(0));
  return detail::analysis::units_to_samples(fn, detail::cuda::fetch_doubles(unitmem, exec.stream, fn),
                                            std::vector<std::int64_t>(ids.begin(), ids.end()),
                                            detail::cuda::fetch_doubles(sample_scores, exec.stream, fn), top_units);
}

}  // namespace memloc
