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
#include "detail/validate.hpp"

namespace memloc {

template <>
class classmem_accumulator<host_space> {
 public:
  classmem_accumulator(const host_exec&, const classmem_shape& shape, const classmem_options& options = {})
      : shape_(validated(shape, options)), options_(options), state_(shape.samples, shape.units, shape.classes) {}

  template <class T, class Space, class I, class IdSpace, class L, class LabelSpace>
  void update(const host_exec& exec, const activations_view<T, Space>& batch, const vector_view<I, IdSpace>& sample_ids,
              const vector_view<L, LabelSpace>& labels) {
    static_assert(is_supported_element_v<T>, "activations must be float, double, memloc::half or memloc::bfloat16");
    static_assert(host_accessible_v<Space> && host_accessible_v<IdSpace> && host_accessible_v<LabelSpace>,
                  "host_exec needs host or managed memory");
    static_assert(detail::is_index_element_v<I> && detail::is_index_element_v<L>, "sample ids and labels must be integers");
    constexpr const char* fn = "memloc::classmem_accumulator::update";
    detail::check_exec(fn, exec);
    const activations_view<const T, Space> acts = batch;
    detail::check_view(fn, "batch", acts);
    detail::check_extent(fn, "batch", 1, "views", shape_.views, acts.extent(1));
    detail::check_extent(fn, "batch", 2, "units", shape_.units, acts.extent(2));
    detail::check_extent(fn, "batch", 3, "positions", shape_.positions, acts.extent(3));
    detail::check_ids(fn, sample_ids, acts.extent(0), shape_.samples);
    detail::check_labels(fn, labels, acts.extent(0), shape_.classes);
    state_.seen().check_new(fn, sample_ids);
    state_.update(exec, acts, sample_ids, labels, options_.transform);
  }

  void merge(const host_exec&, const classmem_accumulator& other) {
    constexpr const char* fn = "memloc::classmem_accumulator::merge";
    detail::check_not_self(fn, this, &other);
    detail::check_same(fn, "shape().samples", shape_.samples, other.shape_.samples);
    detail::check_same(fn, "shape().units", shape_.units, other.shape_.units);
    detail::check_same(fn, "shape().views", shape_.views, other.shape_.views);
    detail::check_same(fn, "shape().positions", shape_.positions, other.shape_.positions);
    detail::check_same(fn, "shape().classes", shape_.classes, other.shape_.classes);
    detail::check_same(fn, "options().transform", options_.transform, other.options_.transform);
    state_.seen().check_disjoint(fn, other.state_.seen());
    state_.merge(other.state_);
  }

  // OutSpace defaults to host memory so that braced outputs ({unitmem_view, {}, argmax_view}) work.
  template <class OutSpace = host_space>
  classmem_report finalize(const host_exec&, const classmem_outputs<OutSpace>& out) const {
    static_assert(host_accessible_v<OutSpace>, "host_exec needs host or managed memory");
    constexpr const char* fn = "memloc::classmem_accumulator::finalize";
    detail::check_unit_output(fn, "out.classmem", out.classmem, shape_.units, true);
    detail::check_unit_output(fn, "out.mu_max", out.mu_max, shape_.units, false);
    detail::check_unit_output(fn, "out.max_class", out.max_class, shape_.units, false);
    detail::check_unit_output(fn, "out.mu_rest", out.mu_rest, shape_.units, false);
    detail::check_outputs_disjoint(fn, {detail::range_of("out.classmem", out.classmem), detail::range_of("out.mu_max", out.mu_max),
                                        detail::range_of("out.max_class", out.max_class),
                                        detail::range_of("out.mu_rest", out.mu_rest)});
    classmem_report report;
    report.units = shape_.units;
    report.samples = state_.seen().distinct(fn);
    report.classes_with_samples = state_.classes_with_samples();
    if (report.classes_with_samples < 2) {
      detail::fail(fn, "classes with samples must be >= 2 (the rest averages the other classes), got ",
                   report.classes_with_samples);
    }
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
  static const classmem_shape& validated(const classmem_shape& shape, const classmem_options& options) {
    constexpr const char* fn = "memloc::classmem_accumulator";
    detail::check_sample_space(fn, shape.samples);
    detail::check_positive(fn, "shape.units", shape.units);
    detail::check_positive(fn, "shape.views", shape.views);
    detail::check_positive(fn, "shape.positions", shape.positions);
    detail::check_at_least(fn, "shape.classes", 2, shape.classes);
    detail::check_product(fn, "shape.classes * shape.units", shape.classes, shape.units, index_t{1} << 40);
    detail::check_product(fn, "shape.units * shape.positions", shape.units, shape.positions, detail::max_elements);
    detail::check_product(fn, "shape.views * shape.positions", shape.views, shape.positions, detail::max_elements);
    detail::check_enum(fn, "options.transform", options.transform, activation_transform::abs);
    return shape;
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
  constexpr const char* fn = "memloc::classmem";
  detail::check_minimum_extents(fn, "activations", activations, {1, 1, 1, 1}, {"samples", "views", "units", "positions"});
  detail::check_at_least(fn, "classes", 2, classes);
  classmem_accumulator<host_space> acc(exec,
                                       classmem_shape{activations.extent(0), activations.extent(2), activations.extent(1),
                                                      activations.extent(3), classes},
                                       options);
  const auto ids = detail::sequential_ids(activations.extent(0));
  acc.update(exec, activations, make_vector_view(ids.data(), activations.extent(0)), labels);
  return acc.finalize(exec, out);
}

}  // namespace memloc
