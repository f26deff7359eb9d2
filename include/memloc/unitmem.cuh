#pragma once

// UnitMem on device buffers: the CUDA counterparts of unitmem.hpp, chosen by a cuda_exec
// argument. The formulas and argument checks are the host backend's; ids are checked on
// the device, and a bad id is raised by the next call that waits for the stream (merge or
// finalize), naming the update it came from. After such an error the state is unusable
// until reset.

#include <cstdint>
#include <variant>
#include <vector>

#include "core.hpp"
#include "cuda_exec.cuh"
#include "detail/cuda/unitmem_state.cuh"
#include "detail/metric_checks.hpp"
#include "detail/shape_checks.hpp"
#include "detail/unitmem_storage.hpp"
#include "detail/validate.hpp"
#include "unitmem_types.hpp"

namespace memloc {

// Device state is allocated once here; update, merge, finalize and reset allocate nothing.
// Move-only, as it owns device memory.
template <>
class unitmem_accumulator<device_space> {
 public:
  unitmem_accumulator(const cuda_exec& exec, const unitmem_shape& shape, const unitmem_options& options = {})
      : shape_(detail::checked_shape(shape, options)), options_(options), storage_(detail::resolve_unitmem_storage(options)),
        state_(detail::make_unitmem_state<per_unit_state, per_sample_state>(storage_, exec.stream, shape_,
                                                                             "memloc::unitmem_accumulator")) {}

  template <class T, class Space, class I, class IdSpace>
  void update(const cuda_exec& exec, const activations_view<T, Space>& batch, const vector_view<I, IdSpace>& sample_ids) {
    static_assert(is_supported_element_v<T>, "activations must be float, double, memloc::half or memloc::bfloat16");
    static_assert(device_accessible_v<Space> && device_accessible_v<IdSpace>, "cuda_exec needs device or managed memory");
    static_assert(detail::is_index_element_v<I>, "sample ids must be integers");
    constexpr const char* fn = "memloc::unitmem_accumulator::update";
    const activations_view<const T, Space> acts = batch;
    detail::check_unitmem_batch(fn, shape_, storage_, acts);
    detail::check_view(fn, "sample_ids", sample_ids);
    detail::check_extent(fn, "sample_ids", 0, "one id per batch sample", acts.extent(0), sample_ids.extent(0));
    std::visit([&](auto& s) { s.update(exec.stream, acts, sample_ids, options_.transform, fn); }, state_);
  }

  void merge(const cuda_exec& exec, const unitmem_accumulator& other) {
    detail::check_unitmem_mergeable(*this, other);
    detail::visit_same_storage(state_, other.state_, [&](auto& s, const auto& o) {
      s.merge(exec.stream, o, "memloc::unitmem_accumulator::merge", "memloc::unitmem_accumulator::update");
    });
  }

  template <class OutSpace = device_space>
  unitmem_report finalize(const cuda_exec& exec, const unitmem_outputs<OutSpace>& out) const {
    static_assert(device_accessible_v<OutSpace>, "cuda_exec needs device or managed memory");
    constexpr const char* fn = "memloc::unitmem_accumulator::finalize";
    detail::check_unitmem_outputs(fn, out, shape_.units);
    const detail::unit_outputs raw{out.unitmem.data_handle(), out.mu_max.data_handle(), out.argmax.data_handle(),
                                    out.mu_rest.data_handle()};
    constexpr const char* updating = "memloc::unitmem_accumulator::update";
    const auto* s = std::get_if<per_unit_state>(&state_);
    const auto done = s ? s->finalize(exec.stream, raw, fn, updating)
                        : std::get<per_sample_state>(state_).finalize(exec.stream, options_.rest, raw, fn, updating);
    unitmem_report report;
    report.samples = done.samples;
    report.units = shape_.units;
    report.nan_units = done.nan_units;
    report.negative_denominator_units = done.negative_denominator_units;
    return report;
  }

  void reset(const cuda_exec& exec) {
    std::visit([&](auto& s) { s.reset(exec.stream, "memloc::unitmem_accumulator::reset"); }, state_);
  }

  // Device pointers, merged element-wise with the given reduction (NCCL can all-reduce them).
  std::vector<state_buffer> state_buffers() {
    return std::visit([](auto& s) { return s.buffers(); }, state_);
  }

  const unitmem_shape& shape() const noexcept { return shape_; }
  const unitmem_options& options() const noexcept { return options_; }
  unitmem_storage storage() const noexcept { return storage_; }

 private:
  using per_unit_state = detail::cuda::unitmem_per_unit_state;
  using per_sample_state = detail::cuda::unitmem_per_sample_state;

  unitmem_shape shape_;
  unitmem_options options_;
  unitmem_storage storage_;
  std::variant<per_unit_state, per_sample_state> state_;
};

unitmem_accumulator(const cuda_exec&, const unitmem_shape&)->unitmem_accumulator<device_space>;
unitmem_accumulator(const cuda_exec&, const unitmem_shape&, const unitmem_options&)->unitmem_accumulator<device_space>;

// One-shot UnitMem over device activations that hold every sample of D': sample i of the
// view is id i, so out.argmax names rows of `activations`.
template <class T, class Space, class OutSpace = device_space>
unitmem_report unitmem(const cuda_exec& exec, const activations_view<T, Space>& activations,
                       const unitmem_outputs<OutSpace>& out, const unitmem_options& options = {}) {
  unitmem_accumulator<device_space> acc(exec, detail::one_shot_unitmem_shape(activations), options);
  const auto ids = detail::cuda::sequential_ids(activations.extent(0), exec.stream, "memloc::unitmem");
  acc.update(exec, activations, make_vector_view<device_space>(ids.data(), activations.extent(0)));
  return acc.finalize(exec, out);
}

}  // namespace memloc
