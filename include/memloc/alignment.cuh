#pragma once

// Per-sample alignment SSL_f(x) and SSL_g(x) (LOC Eq. 1) on device data: the CUDA backend
// of alignment.hpp, with the same names, shapes, options and messages. Ids are checked on
// the device, so update never waits for it: an id outside [0, samples) is skipped and a
// sample folded twice is counted twice, and the next merge or finalize raises either,
// naming the update it came from. After such an error the state is unusable until reset.

#include <cstdint>
#include <vector>

#include "alignment_types.hpp"
#include "core.hpp"
#include "cuda_exec.cuh"
#include "detail/alignment_checks.hpp"
#include "detail/cuda/accumulator_support.cuh"
#include "detail/cuda/alignment_state.cuh"
#include "detail/shape_checks.hpp"

namespace memloc {

// Device state is allocated once here; update, merge, finalize and reset allocate nothing.
// Move-only, as it owns device memory.
template <>
class alignment_accumulator<device_space> {
 public:
  alignment_accumulator(const cuda_exec& exec, const alignment_shape& shape, const alignment_options& options = {})
      : shape_(detail::checked_shape(shape, options)), options_(options),
        state_(exec.stream, shape, options, "memloc::alignment_accumulator") {}

  template <class TF, class SpaceF, class TG, class SpaceG, class I, class IdSpace>
  void update(const cuda_exec& exec, const representations_view<TF, SpaceF>& f_batch,
              const representations_view<TG, SpaceG>& g_batch, const vector_view<I, IdSpace>& sample_ids) {
    static_assert(is_supported_element_v<TF> && is_supported_element_v<TG>,
                  "representations must be float, double, memloc::half or memloc::bfloat16");
    static_assert(device_accessible_v<SpaceF> && device_accessible_v<SpaceG> && device_accessible_v<IdSpace>,
                  "cuda_exec needs device or managed memory");
    static_assert(detail::is_index_element_v<I>, "sample ids must be integers");
    constexpr const char* fn = "memloc::alignment_accumulator::update";
    detail::check_alignment_batch(fn, shape_, f_batch, g_batch);
    detail::check_id_extents(fn, sample_ids, f_batch.extent(0));
    state_.update(exec.stream, f_batch, g_batch, sample_ids, fn);
  }

  void merge(const cuda_exec& exec, const alignment_accumulator& other) {
    detail::check_alignment_mergeable(*this, other);
    state_.merge(exec.stream, other.state_, "memloc::alignment_accumulator::merge", updating);
  }

  // Writes SSL_f and SSL_g of every sample id in [0, samples); all must have been folded.
  // Waits for the stream to check the folds, then enqueues the copy to the outputs.
  template <class Space>
  void finalize(const cuda_exec& exec, const vector_view<double, Space>& ssl_f, const vector_view<double, Space>& ssl_g) const {
    static_assert(device_accessible_v<Space>, "cuda_exec needs device or managed memory");
    detail::check_alignment_outputs(shape_, ssl_f, ssl_g);
    state_.finalize(exec.stream, ssl_f, ssl_g, "memloc::alignment_accumulator::finalize", updating);
  }

  void reset(const cuda_exec& exec) { state_.reset(exec.stream, "memloc::alignment_accumulator::reset"); }

  // Device pointers, merged element-wise with the given reduction (NCCL can all-reduce them).
  std::vector<state_buffer> state_buffers() { return state_.buffers(); }

  const alignment_shape& shape() const noexcept { return shape_; }
  const alignment_options& options() const noexcept { return options_; }

 private:
  static constexpr const char* updating = "memloc::alignment_accumulator::update";

  alignment_shape shape_;
  alignment_options options_;
  detail::cuda::alignment_state state_;
};

alignment_accumulator(const cuda_exec&, const alignment_shape&)->alignment_accumulator<device_space>;
alignment_accumulator(const cuda_exec&, const alignment_shape&, const alignment_options&)->alignment_accumulator<device_space>;

// One-shot: SSL_f and SSL_g of every sample of f and g ([samples, views, features] each),
// sample i being row i. Waits for the stream, as finalize does.
template <class TF, class SpaceF, class TG, class SpaceG, class OutSpace>
void alignment(const cuda_exec& exec, const representations_view<TF, SpaceF>& f, const representations_view<TG, SpaceG>& g,
               const vector_view<double, OutSpace>& ssl_f, const vector_view<double, OutSpace>& ssl_g,
               const alignment_options& options = {}) {
  alignment_accumulator<device_space> acc(exec, detail::one_shot_alignment_shape(f), options);
  const auto ids = detail::cuda::sequential_ids(f.extent(0), exec.stream, "memloc::alignment");
  acc.update(exec, f, g, make_vector_view<device_space>(static_cast<const std::int64_t*>(ids.data()), f.extent(0)));
  acc.finalize(exec, ssl_f, ssl_g);
  // The ids and the state are freed on return: wait for the work that reads them rather than
  // rely on cudaFree's implicit device-wide synchronisation.
  detail::cuda::check(cudaStreamSynchronize(exec.stream), "memloc::alignment", "cudaStreamSynchronize");
}

}  // namespace memloc
