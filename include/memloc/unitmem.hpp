#pragma once

// UnitMem (LOC §5, Eqs. 5-8): per unit, how selectively it responds to a single training
// sample. μ_u(x) is the unit's activation averaged over the views (augmentations) and
// positions of x; UnitMem(u) = (μ_max - μ_-max) / (μ_max + μ_-max).

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <variant>
#include <vector>

#include "core.hpp"
#include "detail/host/unitmem_state.hpp"
#include "unitmem_types.hpp"
#include "detail/metric_checks.hpp"
#include "detail/sequential_ids.hpp"
#include "detail/shape_checks.hpp"
#include "detail/unitmem_storage.hpp"
#include "detail/validate.hpp"

namespace memloc {

// Folds a layer's activations batch by batch into a fixed-size state, then computes UnitMem.
// per_unit storage keeps O(units) state and needs all views of a sample in one batch;
// per_sample storage keeps activation sums per sample, so views may arrive in any batches
// (and the median variant needs every μ).
template <>
class unitmem_accumulator<host_space> {
 public:
  unitmem_accumulator(const host_exec&, const unitmem_shape& shape, const unitmem_options& options = {})
      : shape_(detail::checked_shape(shape, options)), options_(options), storage_(detail::resolve_unitmem_storage(options)),
        state_(detail::make_unitmem_state<per_unit_state, per_sample_state>(storage_, shape.samples, shape.units,
                                                                               shape.views * shape.positions)) {}

  template <class T, class Space, class I, class IdSpace>
  void update(const host_exec& exec, const activations_view<T, Space>& batch, const vector_view<I, IdSpace>& sample_ids) {
    static_assert(host_accessible_v<IdSpace>, "host_exec needs host or managed memory");
    static_assert(detail::is_index_element_v<I>, "sample ids must be integers");
    const auto acts = checked_batch(exec, batch);
    detail::check_ids(updating, sample_ids, acts.extent(0), shape_.samples);
    bool distinct_ids = true;
    if (auto* s = std::get_if<per_unit_state>(&state_)) {
      s->seen().check_new(updating, sample_ids);
    } else {
      distinct_ids = check_view_budget(updating, std::get<per_sample_state>(state_), sample_ids, acts.extent(1));
    }
    fold(exec, acts, sample_ids, distinct_ids);
  }

  void merge(const host_exec&, const unitmem_accumulator& other) {
    constexpr const char* fn = "memloc::unitmem_accumulator::merge";
    detail::check_unitmem_mergeable(*this, other);
    if (auto* s = std::get_if<per_unit_state>(&state_)) {
      const auto& o = std::get<per_unit_state>(other.state_);
      s->seen().check_disjoint(fn, o.seen());
      s->merge(o);
    } else {
      auto& ps = std::get<per_sample_state>(state_);
      const auto& o = std::get<per_sample_state>(other.state_);
      for (index_t id = 0; id < shape_.samples; ++id) {
        if (ps.views_folded(id) + o.views_folded(id) > shape_.views) {
          detail::fail(fn, "views of sample id ", id, " across both accumulators must be at most ", shape_.views, ", got ",
                       ps.views_folded(id) + o.views_folded(id));
        }
      }
      ps.merge(o);
    }
  }

  // OutSpace defaults to host memory so that braced outputs ({unitmem_view, {}, argmax_view}) work.
  template <class OutSpace = host_space>
  unitmem_report finalize(const host_exec& exec, const unitmem_outputs<OutSpace>& out) const {
    static_assert(host_accessible_v<OutSpace>, "host_exec needs host or managed memory");
    constexpr const char* fn = "memloc::unitmem_accumulator::finalize";
    detail::check_exec(fn, exec);
    detail::check_unitmem_outputs(fn, out, shape_.units);
    const detail::host::unit_outputs raw{out.unitmem.data_handle(), out.mu_max.data_handle(), out.argmax.data_handle(),
                                         out.mu_rest.data_handle()};
    unitmem_report report;
    report.units = shape_.units;
    detail::host::unit_counts counts;
    if (const auto* s = std::get_if<per_unit_state>(&state_)) {
      report.samples = s->seen().distinct(fn);
      detail::require_two_samples(fn, report.samples);
      counts = s->finalize(report.samples, raw);
    } else {
      const auto& ps = std::get<per_sample_state>(state_);
      for (index_t id = 0; id < shape_.samples; ++id) {
        const auto v = ps.views_folded(id);
        if (v != 0 && v != shape_.views) {
          detail::fail(fn, "every folded sample must have all ", shape_.views, " views, got ", v, " for sample id ", id);
        }
        report.samples += v != 0;
      }
      detail::require_two_samples(fn, report.samples);
      counts = ps.finalize(exec, shape_.views, shape_.positions, options_.rest, raw);
    }
    report.nan_units = counts.nan_units;
    report.negative_denominator_units = counts.negative_denominator_units;
    return report;
  }

  void reset(const host_exec& exec) {
    std::visit([&](auto& s) { s.reset(exec); }, state_);
  }

  // The state as raw buffers with the reduction that merges each, for collective merges.
  std::vector<state_buffer> state_buffers() {
    return std::visit([](auto& s) { return s.buffers(); }, state_);
  }

  const unitmem_shape& shape() const noexcept { return shape_; }
  const unitmem_options& options() const noexcept { return options_; }
  unitmem_storage storage() const noexcept { return storage_; }

 private:
  using per_unit_state = detail::host::unitmem_per_unit_state;
  using per_sample_state = detail::host::unitmem_per_sample_state;

  friend struct detail::fold_sequential_ids;
  static constexpr const char* updating = "memloc::unitmem_accumulator::update";

  template <class T, class Space>
  activations_view<const T, Space> checked_batch(const host_exec& exec, const activations_view<T, Space>& batch) const {
    return detail::checked_host_batch(updating, exec, batch, [&](const auto& acts) { detail::check_unitmem_batch(updating, shape_, storage_, acts); });
  }

  // Ids 0 .. n-1 for the n rows of the first batch (detail::fold_sequential_ids).
  template <class T, class Space>
  void update_sequential(const host_exec& exec, const activations_view<T, Space>& batch,
                         const vector_view<const std::int64_t, host_space>& ids) {
    fold(exec, checked_batch(exec, batch), ids, /*distinct_ids=*/true);
  }

  template <class T, class Space, class IdView>
  void fold(const host_exec& exec, const activations_view<const T, Space>& acts, const IdView& ids,
            bool distinct_ids) {
    if (auto* s = std::get_if<per_unit_state>(&state_)) {
      s->update(exec, acts, ids, options_.transform);
    } else {
      std::get<per_sample_state>(state_).update(exec, acts, ids, options_.transform, distinct_ids);
    }
  }

  // Returns whether the batch's ids are distinct. Counts each id's views including repeats
  // inside this batch before changing anything; an id over budget is named as the smallest
  // one. Counting into a slot per id costs a pass over the batch where sorting its ids cost
  // n log n (2 % of stats/B_median_N50000_U64).
  template <class IdView>
  bool check_view_budget(const char* fn, const per_sample_state& ps, const IdView& ids,
                         index_t batch_views) {
    batch_counts_.resize(static_cast<std::size_t>(shape_.samples));  // zeros between calls
    const index_t n = ids.extent(0);
    for (index_t i = 0; i < n; ++i) ++batch_counts_[static_cast<std::size_t>(ids(i))];
    bool distinct = true;
    std::int64_t over_id = -1;
    index_t over_total = 0;
    for (index_t i = 0; i < n; ++i) {
      const auto id = static_cast<std::int64_t>(ids(i));
      const std::int64_t count = batch_counts_[static_cast<std::size_t>(id)];
      distinct = distinct && count == 1;
      const index_t total = ps.views_folded(id) + count * batch_views;
      if (total > shape_.views && (over_id < 0 || id < over_id)) {
        over_id = id;
        over_total = total;
      }
    }
    for (index_t i = 0; i < n; ++i) batch_counts_[static_cast<std::size_t>(ids(i))] = 0;
    if (over_id >= 0) {
      detail::fail(fn, "views folded for sample id ", over_id, " must be at most ", shape_.views, ", got ", over_total,
                   " with this batch");
    }
    return distinct;
  }

  unitmem_shape shape_;
  unitmem_options options_;
  unitmem_storage storage_;
  std::variant<per_unit_state, per_sample_state> state_;
  std::vector<std::int64_t> batch_counts_;  // per sample id, for the per_sample view budget check
};

unitmem_accumulator(const host_exec&, const unitmem_shape&)->unitmem_accumulator<host_space>;
unitmem_accumulator(const host_exec&, const unitmem_shape&, const unitmem_options&)->unitmem_accumulator<host_space>;

// One-shot UnitMem over activations that hold every sample of D': sample i of the view is
// id i, so out.argmax names rows of `activations`.
template <class T, class Space, class OutSpace = host_space>
unitmem_report unitmem(const host_exec& exec, const activations_view<T, Space>& activations,
                       const unitmem_outputs<OutSpace>& out, const unitmem_options& options = {}) {
  unitmem_accumulator<host_space> acc(exec, detail::one_shot_unitmem_shape(activations), options);
  const auto ids = detail::sequential_ids(activations.extent(0));
  detail::fold_sequential_ids::update(acc, exec, activations, make_vector_view(ids.data(), activations.extent(0)));
  return acc.finalize(exec, out);
}

}  // namespace memloc
