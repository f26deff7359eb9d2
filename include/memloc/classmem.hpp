#pragma once

// ClassMem (LOC App. D.2, Eqs. 13-16): class selectivity of each unit measured on training
// data. Per class j, μ̃_u(C_j) averages the per-sample μ_u(x) (views and positions
// averaged) over the samples of class j; ClassMem(u) = (μ̃_max - μ̃_-max) / (μ̃_max + μ̃_-max)
// with μ̃_-max the mean over the other classes that have samples.

#include <cstdint>
#include <numeric>
#include <vector>

#include "core.hpp"
#include "detail/host/classmem_state.hpp"
#include "classmem_types.hpp"
#include "detail/metric_checks.hpp"
#include "detail/sequential_ids.hpp"
#include "detail/shape_checks.hpp"
#include "detail/validate.hpp"

namespace memloc {

template <>
class classmem_accumulator<host_space> {
 public:
  classmem_accumulator(const host_exec&, const classmem_shape& shape, const classmem_options& options = {})
      : shape_(detail::checked_shape(shape, options)), options_(options), state_(shape.samples, shape.units, shape.classes) {}

  template <class T, class Space, class I, class IdSpace, class L, class LabelSpace>
  void update(const host_exec& exec, const activations_view<T, Space>& batch, const vector_view<I, IdSpace>& sample_ids,
              const vector_view<L, LabelSpace>& labels) {
    static_assert(host_accessible_v<IdSpace>, "host_exec needs host or managed memory");
    static_assert(detail::is_index_element_v<I>, "sample ids and labels must be integers");
    const auto acts = checked_batch(exec, batch);
    detail::check_ids(updating, sample_ids, acts.extent(0), shape_.samples);
    check_labels(acts, labels);
    state_.seen().check_new(updating, sample_ids);
    state_.update(exec, acts, sample_ids, labels, options_.transform);
  }

  void merge(const host_exec&, const classmem_accumulator& other) {
    constexpr const char* fn = "memloc::classmem_accumulator::merge";
    detail::check_classmem_mergeable(*this, other);
    state_.seen().check_disjoint(fn, other.state_.seen());
    state_.merge(other.state_);
  }

  // OutSpace defaults to host memory so that braced outputs ({classmem_view, {}, max_class_view}) work.
  template <class OutSpace = host_space>
  classmem_report finalize(const host_exec&, const classmem_outputs<OutSpace>& out) const {
    static_assert(host_accessible_v<OutSpace>, "host_exec needs host or managed memory");
    constexpr const char* fn = "memloc::classmem_accumulator::finalize";
    detail::check_classmem_outputs(fn, out, shape_.units);
    classmem_report report;
    report.units = shape_.units;
    report.samples = state_.seen().distinct(fn);
    report.classes_with_samples = state_.classes_with_samples();
    detail::require_two_classes(fn, report.classes_with_samples);
    const auto counts = state_.finalize({out.classmem.data_handle(), out.mu_max.data_handle(),
                                         out.max_class.data_handle(), out.mu_rest.data_handle()});
    report.nan_units = counts.nan_units;
    report.negative_denominator_units = counts.negative_denominator_units;
    return report;
  }

  void reset(const host_exec&) { state_.reset(); }

  std::vector<state_buffer> state_buffers() { return state_.buffers(); }

  const classmem_shape& shape() const noexcept { return shape_; }
  const classmem_options& options() const noexcept { return options_; }

 private:
  friend struct detail::fold_sequential_ids;
  static constexpr const char* updating = "memloc::classmem_accumulator::update";

  template <class T, class Space>
  activations_view<const T, Space> checked_batch(const host_exec& exec, const activations_view<T, Space>& batch) const {
    return detail::checked_host_batch(updating, exec, batch, [&](const auto& acts) { detail::check_classmem_batch(updating, shape_, acts); });
  }

  template <class T, class Space, class L, class LabelSpace>
  void check_labels(const activations_view<const T, Space>& acts, const vector_view<L, LabelSpace>& labels) const {
    static_assert(host_accessible_v<LabelSpace>, "host_exec needs host or managed memory");
    static_assert(detail::is_index_element_v<L>, "sample ids and labels must be integers");
    detail::check_labels(updating, labels, acts.extent(0), shape_.classes);
  }

  // Ids 0 .. n-1 for the n rows of the first batch (detail::fold_sequential_ids); the
  // labels are still the caller's.
  template <class T, class Space, class L, class LabelSpace>
  void update_sequential(const host_exec& exec, const activations_view<T, Space>& batch,
                         const vector_view<const std::int64_t, host_space>& ids, const vector_view<L, LabelSpace>& labels) {
    const auto acts = checked_batch(exec, batch);
    check_labels(acts, labels);
    state_.update(exec, acts, ids, labels, options_.transform);
  }

  classmem_shape shape_;
  classmem_options options_;
  detail::host::classmem_state state_;
};

classmem_accumulator(const host_exec&, const classmem_shape&)->classmem_accumulator<host_space>;
classmem_accumulator(const host_exec&, const classmem_shape&, const classmem_options&)->classmem_accumulator<host_space>;

// One-shot ClassMem; sample i of `activations` has label labels(i).
template <class T, class Space, class L, class LabelSpace, class OutSpace = host_space>
classmem_report classmem(const host_exec& exec, const activations_view<T, Space>& activations,
                         const vector_view<L, LabelSpace>& labels, index_t classes, const classmem_outputs<OutSpace>& out,
                         const classmem_options& options = {}) {
  classmem_accumulator<host_space> acc(exec, detail::one_shot_classmem_shape(activations, classes), options);
  const auto ids = detail::sequential_ids(activations.extent(0));
  detail::fold_sequential_ids::update(acc, exec, activations, make_vector_view(ids.data(), activations.extent(0)), labels);
  return acc.finalize(exec, out);
}

}  // namespace memloc
