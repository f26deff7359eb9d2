#pragma once

// Per-sample alignment SSL_f(x) and SSL_g(x) (LOC Eq. 1): the mean distance between the
// representations of x's augmented views, for the encoder trained on x (f) and the
// reference encoder not trained on it (g), both given the same views.

#include <cstdint>
#include <numeric>
#include <vector>

#include "core.hpp"
#include "alignment_types.hpp"
#include "detail/alignment_checks.hpp"
#include "detail/host/distance.hpp"
#include "detail/sample_set.hpp"
#include "detail/sequential_ids.hpp"
#include "detail/shape_checks.hpp"
#include "detail/validate.hpp"

namespace memloc {

// Collects SSL_f and SSL_g of every sample at one measurement point, batch by batch. Each
// batch holds all views of its samples.
template <>
class alignment_accumulator<host_space> {
 public:
  alignment_accumulator(const host_exec&, const alignment_shape& shape, const alignment_options& options = {})
      : shape_(detail::checked_shape(shape, options)), options_(options),
        ssl_f_(static_cast<std::size_t>(shape.samples), 0.0), ssl_g_(static_cast<std::size_t>(shape.samples), 0.0),
        seen_(shape.samples) {}

  template <class TF, class SpaceF, class TG, class SpaceG, class I, class IdSpace>
  void update(const host_exec& exec, const representations_view<TF, SpaceF>& f_batch,
              const representations_view<TG, SpaceG>& g_batch, const vector_view<I, IdSpace>& sample_ids) {
    static_assert(host_accessible_v<IdSpace>, "host_exec needs host or managed memory");
    static_assert(detail::is_index_element_v<I>, "sample ids must be integers");
    check_batch(exec, f_batch, g_batch);
    detail::check_ids(updating, sample_ids, f_batch.extent(0), shape_.samples);
    seen_.check_new(updating, sample_ids);
    fold(exec, f_batch, g_batch, sample_ids);
  }

  void merge(const host_exec&, const alignment_accumulator& other) {
    detail::check_alignment_mergeable(*this, other);
    seen_.check_disjoint("memloc::alignment_accumulator::merge", other.seen_);
    // Each sample is written by exactly one side and the other holds 0, so + merges exactly.
    for (std::size_t i = 0; i < ssl_f_.size(); ++i) {
      ssl_f_[i] += other.ssl_f_[i];
      ssl_g_[i] += other.ssl_g_[i];
    }
    seen_.merge(other.seen_);
  }

  // Writes SSL_f and SSL_g of every sample id in [0, samples); all must have been folded.
  template <class Space>
  void finalize(const host_exec&, const vector_view<double, Space>& ssl_f, const vector_view<double, Space>& ssl_g) const {
    static_assert(host_accessible_v<Space>, "host_exec needs host or managed memory");
    constexpr const char* fn = "memloc::alignment_accumulator::finalize";
    detail::check_alignment_outputs(shape_, ssl_f, ssl_g);
    const index_t distinct = seen_.distinct(fn);
    if (distinct != shape_.samples) {
      detail::fail(fn, "folded samples must be all ", shape_.samples, " ids, got ", distinct, " (first missing id ",
                   seen_.first_missing(), ")");
    }
    for (index_t i = 0; i < shape_.samples; ++i) {
      ssl_f(i) = ssl_f_[static_cast<std::size_t>(i)];
      ssl_g(i) = ssl_g_[static_cast<std::size_t>(i)];
    }
  }

  void reset(const host_exec&) {
    std::fill(ssl_f_.begin(), ssl_f_.end(), 0.0);
    std::fill(ssl_g_.begin(), ssl_g_.end(), 0.0);
    seen_.reset();
  }

  std::vector<state_buffer> state_buffers() {
    return {{"ssl_f", ssl_f_.data(), ssl_f_.size(), state_element::f64, state_reduction::sum},
            {"ssl_g", ssl_g_.data(), ssl_g_.size(), state_element::f64, state_reduction::sum},
            {"sample_folds", seen_.counts(), seen_.size(), state_element::i32, state_reduction::sum}};
  }

  const alignment_shape& shape() const noexcept { return shape_; }
  const alignment_options& options() const noexcept { return options_; }

 private:
  friend struct detail::fold_sequential_ids;
  static constexpr const char* updating = "memloc::alignment_accumulator::update";

  template <class TF, class SpaceF, class TG, class SpaceG>
  void check_batch(const host_exec& exec, const representations_view<TF, SpaceF>& f,
                   const representations_view<TG, SpaceG>& g) const {
    static_assert(is_supported_element_v<TF> && is_supported_element_v<TG>,
                  "representations must be float, double, memloc::half or memloc::bfloat16");
    static_assert(host_accessible_v<SpaceF> && host_accessible_v<SpaceG>, "host_exec needs host or managed memory");
    detail::check_exec(updating, exec);
    detail::check_alignment_batch(updating, shape_, representations_view<const TF, SpaceF>(f),
                                  representations_view<const TG, SpaceG>(g));
  }

  // Ids 0 .. n-1 for the n rows of the first batch (detail::fold_sequential_ids).
  template <class TF, class SpaceF, class TG, class SpaceG>
  void update_sequential(const host_exec& exec, const representations_view<TF, SpaceF>& f,
                         const representations_view<TG, SpaceG>& g, const vector_view<const std::int64_t, host_space>& ids) {
    check_batch(exec, f, g);
    fold(exec, f, g, ids);
  }

  template <class TF, class SpaceF, class TG, class SpaceG, class IdView>
  void fold(const host_exec& exec, const representations_view<TF, SpaceF>& f_batch,
            const representations_view<TG, SpaceG>& g_batch, const IdView& ids) {
    const representations_view<const TF, SpaceF> f = f_batch;
    const representations_view<const TG, SpaceG> g = g_batch;
    scratch_.resize(static_cast<std::size_t>(2 * f.extent(0)));
    double* f_out = scratch_.data();
    double* g_out = scratch_.data() + f.extent(0);
    detail::host::alignment_distances(exec, f, options_, f_out);
    detail::host::alignment_distances(exec, g, options_, g_out);
    for (index_t b = 0; b < f.extent(0); ++b) {
      const auto id = static_cast<std::size_t>(ids(b));
      ssl_f_[id] = f_out[b];
      ssl_g_[id] = g_out[b];
    }
    seen_.insert(ids);
  }

  alignment_shape shape_;
  alignment_options options_;
  std::vector<double> ssl_f_;
  std::vector<double> ssl_g_;
  detail::sample_set seen_;
  std::vector<double> scratch_;  // per-batch distances, not state
};

alignment_accumulator(const host_exec&, const alignment_shape&)->alignment_accumulator<host_space>;
alignment_accumulator(const host_exec&, const alignment_shape&, const alignment_options&)->alignment_accumulator<host_space>;

// One-shot: SSL_f and SSL_g of every sample of f and g ([samples, views, features] each).
template <class TF, class SpaceF, class TG, class SpaceG, class OutSpace>
void alignment(const host_exec& exec, const representations_view<TF, SpaceF>& f, const representations_view<TG, SpaceG>& g,
               const vector_view<double, OutSpace>& ssl_f, const vector_view<double, OutSpace>& ssl_g,
               const alignment_options& options = {}) {
  alignment_accumulator<host_space> acc(exec, detail::one_shot_alignment_shape(f), options);
  const auto ids = detail::sequential_ids(f.extent(0));
  detail::fold_sequential_ids::update(acc, exec, f, g, make_vector_view(ids.data(), f.extent(0)));
  acc.finalize(exec, ssl_f, ssl_g);
}

}  // namespace memloc
