#pragma once

// ClassMem on device buffers: the CUDA counterparts of classmem.hpp, chosen by a cuda_exec
// argument. Ids and labels are checked on the device; a bad one is raised by the next call
// that waits for the stream (merge or finalize), and the state is unusable until reset.

#include <cstdint>
#include <vector>

#include "classmem_types.hpp"
#include "core.hpp"
#include "cuda_exec.cuh"
#include "detail/cuda/classmem_state.cuh"
#include "detail/metric_checks.hpp"
#include "detail/shape_checks.hpp"
#include "detail/validate.hpp"

namespace memloc {

template <>
class classmem_accumulator<device_space> {
 public:
  classmem_accumulator(const cuda_exec& exec, const classmem_shape& shape, const classmem_options& options = {})
      : shape_(detail::checked_shape(shape, options)), options_(options),
        state_(exec.stream, shape, "memloc::classmem_accumulator") {}

  template <class T, class Space, class I, class IdSpace, class L, class LabelSpace>
  void update(const cuda_exec& exec, const activations_view<T, Space>& batch, const vector_view<I, IdSpace>& sample_ids,
              const vector_view<L, LabelSpace>& labels) {
    static_assert(is_supported_element_v<T>, "activations must be float, double, memloc::half or memloc::bfloat16");
    static_assert(device_accessible_v<Space> && device_accessible_v<IdSpace> && device_accessible_v<LabelSpace>,
                  "cuda_exec needs device or managed memory");
    static_assert(detail::is_index_element_v<I> && detail::is_index_element_v<L>, "sample ids and labels must be integers");
    constexpr const char* fn = "memloc::classmem_accumulator::update";
    const activations_view<const T, Space> acts = batch;
    detail::check_classmem_batch(fn, shape_, acts);
    detail::check_view(fn, "sample_ids", sample_ids);
    detail::check_extent(fn, "sample_ids", 0, "one id per batch sample", acts.extent(0), sample_ids.extent(0));
    detail::check_view(fn, "labels", labels);
    detail::check_extent(fn, "labels", 0, "one label per batch sample", acts.extent(0), labels.extent(0));
    state_.update(exec.stream, acts, sample_ids, labels, options_.transform, fn);
  }

  void merge(const cuda_exec& exec, const classmem_accumulator& other) {
    detail::check_classmem_mergeable(*this, other);
    state_.merge(exec.stream, other.state_, "memloc::classmem_accumulator::merge", "memloc::classmem_accumulator::update");
  }

  template <class OutSpace = device_space>
  classmem_report finalize(const cuda_exec& exec, const classmem_outputs<OutSpace>& out) const {
    static_assert(device_accessible_v<OutSpace>, "cuda_exec needs device or managed memory");
    constexpr const char* fn = "memloc::classmem_accumulator::finalize";
    detail::check_classmem_outputs(fn, out, shape_.units);
    const detail::unit_outputs raw{out.classmem.data_handle(), out.mu_max.data_handle(), out.max_class.data_handle(),
                                    out.mu_rest.data_handle()};
    const auto done = state_.finalize(exec.stream, raw, fn, "memloc::classmem_accumulator::update");
    classmem_report report;
    report.samples = done.samples;
    report.units = shape_.units;
    report.classes_with_samples = done.classes_with_samples;
    report.nan_units = done.nan_units;
    report.negative_denominator_units = done.negative_denominator_units;
    return report;
  }

  void reset(const cuda_exec& exec) { state_.reset(exec.stream, "memloc::classmem_accumulator::reset"); }

  // Device pointers, merged element-wise with the given reduction.
  std::vector<state_buffer> state_buffers() { return state_.buffers(); }

  const classmem_shape& shape() const noexcept { return shape_; }
  const classmem_options& options() const noexcept { return options_; }

 private:
  classmem_shape shape_;
  classmem_options options_;
  detail::cuda::classmem_state state_;
};

classmem_accumulator(const cuda_exec&, const classmem_shape&)->classmem_accumulator<device_space>;
classmem_accumulator(const cuda_exec&, const classmem_shape&, const classmem_options&)->classmem_accumulator<device_space>;

// One-shot ClassMem on device data; sample i of `activations` has label labels(i).
template <class T, class Space, class L, class LabelSpace, class OutSpace = device_space>
classmem_report classmem(const cuda_exec& exec, const activations_view<T, Space>& activations,
                         const vector_view<L, LabelSpace>& labels, index_t classes, const classmem_outputs<OutSpace>& out,
                         const classmem_options& options = {}) {
  classmem_accumulator<device_space> acc(exec, detail::one_shot_classmem_shape(activations, classes), options);
  const auto ids = detail::cuda::sequential_ids(activations.extent(0), exec.stream, "memloc::classmem");
  acc.update(exec, activations, make_vector_view<device_space>(ids.data(), activations.extent(0)), labels);
  return acc.finalize(exec, out);
}

}  // namespace memloc
