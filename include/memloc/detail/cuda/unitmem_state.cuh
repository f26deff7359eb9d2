#pragma once

// State and arithmetic of the device UnitMem accumulator. Arguments arrive validated on the
// host; ids are validated by the kernels (see accumulator_support.cuh).

#include <cstdint>
#include <vector>

#include "memloc/detail/cuda/accumulator_support.cuh"
#include "memloc/detail/cuda/fold.cuh"
#include "memloc/detail/metric_checks.hpp"
#include "memloc/detail/cuda/launch.cuh"
#include "memloc/kernels/unitmem.cuh"
#include "memloc/options.hpp"
#include "memloc/state.hpp"
#include "memloc/unitmem_types.hpp"

namespace memloc::detail::cuda {

// Row segments per chunk in the per_unit update: enough threads to hide the latency of the
// per-unit row loops, few enough that the second pass over the partials stays negligible.
inline constexpr index_t row_segments = 64;
// Id segments in a per_sample finalize: its columns span the whole id space (up to millions
// of ids), so they are cut finer.
inline constexpr index_t id_segments = 256;

class unitmem_state {
 public:
  unitmem_state(cudaStream_t stream, const unitmem_shape& shape, unitmem_storage storage, const char* function)
      : shape_(shape), per_unit_(storage == unitmem_storage::per_unit),
        sums_(per_unit_ ? shape.units : shape.samples * shape.units, function),
        keys_(per_unit_ ? shape.units : 0, function), folds_(per_unit_ ? shape.samples : 0, function),
        views_(per_unit_ ? 0 : shape.samples, function),
        chunk_rows_(chunk_rows_for(shape.units, per_unit_ ? shape.samples : shape.samples * shape.views)),
        totals_(chunk_rows_ * shape.units, function),
        partials_((per_unit_ ? row_segments : id_segments) * shape.units, function), column_keys_(per_unit_ ? 0 : shape.units, function),
        books_(function) {
    reset(stream, function);
  }

  template <class T, class Space, class I, class IdSpace>
  void update(cudaStream_t stream, const activations_view<T, Space>& batch, const vector_view<I, IdSpace>& ids,
              activation_transform transform, const char* function) {
    const index_t rows = batch.extent(0);
    if (rows == 0) return;
    const long long batch_number = books_.next_batch(function);
    if (per_unit_) {
      register_batch(stream, index_list_of(ids), no_labels(), rows, shape_.samples, 0, batch_number, folds_.data(),
                     std::int32_t{1}, nullptr, books_.status(), function);
    } else {
      register_batch(stream, index_list_of(ids), no_labels(), rows, shape_.samples, 0, batch_number, views_.data(),
                     static_cast<std::int64_t>(batch.extent(1)), nullptr, books_.status(), function);
    }
    const index_t elements = batch.extent(1) * batch.extent(3);
    for (index_t first = 0; first < rows; first += chunk_rows_) {
      const index_t count = rows - first < chunk_rows_ ? rows - first : chunk_rows_;
      fold_totals(function, batch, first, count, transform, totals_.data(), stream);
      const unsigned blocks = kernels::grid_for(shape_.units);
      if (per_unit_) {
        const index_t segments = count < row_segments ? count : row_segments;
        launch(function, "the state update kernel", kernels::add_rows_per_unit<>,
               dim3(blocks, static_cast<unsigned>(segments)), kernels::block_threads, 0, stream, totals_.data(), count,
               shape_.units, elements, index_list_of(ids, first), shape_.samples, segments, partials_.data(),
               reinterpret_cast<unsigned long long*>(keys_.data()));
        launch(function, "the state update kernel", kernels::add_partials<>, blocks, kernels::block_threads, 0, stream,
               partials_.data(), segments, shape_.units, sums_.data());
      } else {
        launch(function, "the state update kernel", kernels::add_rows_per_sample<>, blocks, kernels::block_threads, 0,
               stream, totals_.data(), count, shape_.units, index_list_of(ids, first), shape_.samples, sums_.data());
      }
    }
  }

  void merge(cudaStream_t stream, const unitmem_state& other, const char* function, const char* updating) {
    if (per_unit_) {
      books_.check_mergeable_folds(other.books_, folds_.data(), other.folds_.data(), shape_.samples, stream, function,
                                   updating);
    } else {
      books_.raise_recorded(stream, function, updating);
      other.books_.raise_recorded(stream, function, updating);
      const auto s = books_.summarize<std::int64_t>(views_.data(), other.views_.data(), shape_.samples, shape_.views,
                                                    shape_.views, stream, function);
      if (s.first_shared < shape_.samples) {
        fail(function, "views of sample id ", s.first_shared, " across both accumulators must be at most ", shape_.views,
             ", got ", read_element(views_.data(), s.first_shared, stream, function) +
                           read_element(other.views_.data(), s.first_shared, stream, function));
      }
    }
    add_state(sums_, other.sums_, stream, function);
    if (per_unit_) {
      launch(function, "the merge kernel", kernels::max_into<>, kernels::grid_for(keys_.size()), kernels::block_threads,
             0, stream, keys_.data(), other.keys_.data(), keys_.size());
      add_state(folds_, other.folds_, stream, function);
    } else {
      add_state(views_, other.views_, stream, function);
    }
  }

  // Validates the folded samples, then writes the outputs; returns {samples, NaN units,
  // negative-denominator units}.
  struct finalized {
    index_t samples;
    index_t nan_units;
    index_t negative_denominator_units;
  };

  finalized finalize(cudaStream_t stream, rest_reduction rest, const unit_outputs& out, const char* function,
                     const char* updating) const {
    books_.raise_recorded(stream, function, updating);
    index_t samples = 0;
    if (per_unit_) {
      const auto s = books_.summarize<std::int32_t>(folds_.data(), nullptr, shape_.samples, 1, 1, stream, function);
      if (s.first_over < shape_.samples) {
        fail(function,
             "each sample must be folded once (within a batch, across batches and across merged states), got sample id ",
             s.first_over, " folded ",
             read_element(folds_.data(), s.first_over, stream, function), " times");
      }
      samples = static_cast<index_t>(s.distinct);
    } else {
      const auto s = books_.summarize<std::int64_t>(views_.data(), nullptr, shape_.samples, shape_.views, shape_.views,
                                                    stream, function);
      if (s.first_over < shape_.samples) {
        fail(function, "views folded for sample id ", s.first_over, " must be at most ", shape_.views, ", got ",
             read_element(views_.data(), s.first_over, stream, function));
      }
      if (s.first_partial < shape_.samples) {
        fail(function, "every folded sample must have all ", shape_.views, " views, got ",
             read_element(views_.data(), s.first_partial, stream, function), " for sample id ", s.first_partial);
      }
      samples = static_cast<index_t>(s.distinct);
    }
    require_two_samples(function, samples);
    books_.zero_counters(stream, function);
    const index_t elements = shape_.views * shape_.positions;
    if (per_unit_) {
      launch(function, "the finalize kernel", kernels::finalize_per_unit<>, kernels::grid_for(shape_.units),
             kernels::block_threads, 0, stream, sums_.data(), keys_.data(), shape_.units, samples, out,
             books_.counters());
    } else {
      const index_t segments = shape_.samples < id_segments ? shape_.samples : id_segments;
      auto* keys = reinterpret_cast<unsigned long long*>(column_keys_.data());
      column_keys_.zero(stream, function);
      launch(function, "the finalize kernel", kernels::column_partials<>,
             dim3(kernels::grid_for(shape_.units), static_cast<unsigned>(segments)), kernels::block_threads, 0, stream,
             sums_.data(), views_.data(), shape_.samples, shape_.units, elements, segments, partials_.data(), keys);
      if (rest == rest_reduction::mean) {
        launch(function, "the finalize kernel", kernels::finalize_per_sample_mean<>, kernels::grid_for(shape_.units),
               kernels::block_threads, 0, stream, partials_.data(), segments, keys, shape_.units, samples, out,
               books_.counters());
      } else {
        const unsigned blocks = static_cast<unsigned>(shape_.units < (index_t{1} << 20) ? shape_.units : index_t{1} << 20);
        launch(function, "the finalize kernel", kernels::finalize_per_sample_median<>, blocks, kernels::block_threads, 0,
               stream, sums_.data(), views_.data(), keys, shape_.samples, shape_.units, elements, samples, out,
               books_.counters());
      }
    }
    unsigned long long counts[2] = {0, 0};
    books_.read_counters(counts, stream, function);
    return {samples, static_cast<index_t>(counts[0]), static_cast<index_t>(counts[1])};
  }

  void reset(cudaStream_t stream, const char* function) {
    sums_.zero(stream, function);
    keys_.zero(stream, function);  // key 0 is the identity of max
    folds_.zero(stream, function);
    views_.zero(stream, function);
    books_.reset(stream, function);
  }

  std::vector<state_buffer> buffers() {
    if (per_unit_) {
      return {{"mu_sums", sums_.data(), static_cast<std::size_t>(sums_.size()), state_element::f64, state_reduction::sum},
              {"mu_max_keys", keys_.data(), static_cast<std::size_t>(keys_.size()), state_element::u64,
               state_reduction::max},
              {"sample_folds", folds_.data(), static_cast<std::size_t>(folds_.size()), state_element::i32,
               state_reduction::sum}};
    }
    return {{"sample_sums", sums_.data(), static_cast<std::size_t>(sums_.size()), state_element::f64, state_reduction::sum},
            {"sample_views", views_.data(), static_cast<std::size_t>(views_.size()), state_element::i64,
             state_reduction::sum}};
  }

 private:
  unitmem_shape shape_;
  bool per_unit_;
  device_array<double> sums_;           // per_unit: [units]; per_sample: [samples, units]
  device_array<std::uint64_t> keys_;    // per_unit: packed (μ, id) maxima
  device_array<std::int32_t> folds_;    // per_unit: folds per sample id
  device_array<std::int64_t> views_;    // per_sample: views folded per sample id
  index_t chunk_rows_;
  device_array<double> totals_;         // μ totals of one chunk of a batch: scratch, not state
  // Scratch: partial sums of row segments (per_unit update) or id segments (per_sample
  // finalize), and the per-unit maxima of a per_sample finalize. Mutable: finalize is const.
  mutable device_array<double> partials_;
  mutable device_array<std::uint64_t> column_keys_;
  mutable device_bookkeeping books_;  // finalize is const but counts NaN units on the device
};

}  // namespace memloc::detail::cuda
