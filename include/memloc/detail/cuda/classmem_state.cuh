#pragma once

// State and arithmetic of the device ClassMem accumulator: sums of μ per (class, unit),
// samples per class, folds per sample id. Arguments arrive validated on the host; ids and
// labels are validated by the kernels.

#include <cstdint>
#include <vector>

#include "memloc/classmem_types.hpp"
#include "memloc/detail/cuda/accumulator_support.cuh"
#include "memloc/detail/cuda/fold.cuh"
#include "memloc/detail/metric_checks.hpp"
#include "memloc/detail/cuda/launch.cuh"
#include "memloc/detail/cuda/row_groups.cuh"
#include "memloc/kernels/unitmem.cuh"
#include "memloc/state.hpp"

namespace memloc::detail::cuda {

// ClassMem with at most this many classes keeps each thread's class sums in shared memory
// (classes x 256 doubles within the 48 KB every device grants) and folds row segments in
// parallel; with more, a chunk's rows are grouped by label and a thread per (label, unit)
// adds its rows into the state in row order (keyed_row_adder).
inline constexpr index_t private_class_limit = 24;
inline constexpr index_t class_row_segments = 64;

class classmem_state {
 public:
  classmem_state(cudaStream_t stream, const classmem_shape& shape, const char* function)
      : shape_(shape), class_sums_(shape.classes * shape.units, function), class_counts_(shape.classes, function),
        folds_(shape.samples, function), chunk_rows_(chunk_rows_for(shape.units, shape.samples)),
        totals_(chunk_rows_ * shape.units, function),
        partials_(shape.classes <= private_class_limit ? class_row_segments * shape.classes * shape.units : 0, function),
        adder_(shape.classes > private_class_limit ? chunk_rows_ : 0, shape.classes, function), books_(function) {
    reset(stream, function);
  }

  template <class T, class Space, class I, class IdSpace, class L, class LabelSpace>
  void update(cudaStream_t stream, const activations_view<T, Space>& batch, const vector_view<I, IdSpace>& ids,
              const vector_view<L, LabelSpace>& labels, activation_transform transform, const char* function) {
    const index_t rows = batch.extent(0);
    if (rows == 0) return;
    const long long batch_number = books_.next_batch(function);
    register_batch(stream, index_list_of(ids), index_list_of(labels), rows, shape_.samples, shape_.classes, batch_number,
                   folds_.data(), std::int32_t{1}, class_counts_.data(), books_.status(), function);
    const index_t elements = batch.extent(1) * batch.extent(3);
    for (index_t first = 0; first < rows; first += chunk_rows_) {
      const index_t count = rows - first < chunk_rows_ ? rows - first : chunk_rows_;
      fold_totals(function, batch, first, count, transform, totals_.data(), stream);
      if (shape_.classes <= private_class_limit) {
        const index_t segments = count < class_row_segments ? count : class_row_segments;
        const dim3 grid(static_cast<unsigned>((shape_.units + kernels::block_threads - 1) / kernels::block_threads),
                        static_cast<unsigned>(segments));
        const auto shared = static_cast<std::size_t>(shape_.classes * kernels::block_threads) * sizeof(double);
        launch(function, "the state update kernel", kernels::add_rows_per_class_privately<>, grid,
               kernels::block_threads, shared, stream, totals_.data(), count, shape_.units, elements,
               index_list_of(ids, first), index_list_of(labels, first), shape_.samples, shape_.classes, segments,
               partials_.data());
        launch(function, "the state update kernel", kernels::add_class_partials<>,
               kernels::grid_for(shape_.classes * shape_.units), kernels::block_threads, 0, stream, partials_.data(),
               segments, shape_.classes, shape_.units, class_sums_.data());
      } else {
        adder_.add(stream, totals_.data(), count, shape_.units, elements, index_list_of(ids, first),
                   index_list_of(labels, first), shape_.samples, shape_.classes, class_sums_.data(), function);
      }
    }
  }

  void merge(cudaStream_t stream, const classmem_state& other, const char* function, const char* updating) {
    books_.check_mergeable_folds(other.books_, folds_.data(), other.folds_.data(), shape_.samples, stream, function,
                                 updating);
    add_state(class_sums_, other.class_sums_, stream, function);
    add_state(class_counts_, other.class_counts_, stream, function);
    add_state(folds_, other.folds_, stream, function);
  }

  struct finalized {
    index_t samples;
    index_t classes_with_samples;
    index_t nan_units;
    index_t negative_denominator_units;
  };

  finalized finalize(cudaStream_t stream, const unit_outputs& out, const char* function,
                     const char* updating) const {
    const auto s =
        books_.summarize<std::int32_t>(folds_.data(), nullptr, shape_.samples, 1, 1, stream, function, updating);
    if (s.first_over < shape_.samples) {
      fail(function,
           "each sample must be folded once (within a batch, across batches and across merged states), got sample id ",
           s.first_over, " folded ", read_element(folds_.data(), s.first_over, stream, function), " times");
    }
    std::vector<long long> counts(static_cast<std::size_t>(shape_.classes));
    copy_to_host(counts.data(), class_counts_.data(), class_counts_.bytes(), stream, function);
    index_t present = 0;
    for (const long long c : counts) present += c > 0;
    require_two_classes(function, present);
    books_.zero_counters(stream, function);
    launch(function, "the finalize kernel", kernels::finalize_classes<>, kernels::grid_for(shape_.units),
           kernels::block_threads, 0, stream, class_sums_.data(), class_counts_.data(), shape_.classes, shape_.units,
           present, out, books_.counters());
    unsigned long long nan_counts[2] = {0, 0};
    books_.read_counters(nan_counts, stream, function);
    return {static_cast<index_t>(s.distinct), present, static_cast<index_t>(nan_counts[0]),
            static_cast<index_t>(nan_counts[1])};
  }

  void reset(cudaStream_t stream, const char* function) {
    class_sums_.zero(stream, function);
    class_counts_.zero(stream, function);
    folds_.zero(stream, function);
    books_.reset(stream, function);
  }

  std::vector<state_buffer> buffers() {
    return {{"class_mu_sums", class_sums_.data(), static_cast<std::size_t>(class_sums_.size()), state_element::f64,
             state_reduction::sum},
            {"class_counts", class_counts_.data(), static_cast<std::size_t>(class_counts_.size()), state_element::i64,
             state_reduction::sum},
            {"sample_folds", folds_.data(), static_cast<std::size_t>(folds_.size()), state_element::i32,
             state_reduction::sum}};
  }

 private:
  classmem_shape shape_;
  device_array<double> class_sums_;     // [classes, units]: sums of per-sample μ
  device_array<long long> class_counts_;
  device_array<std::int32_t> folds_;
  index_t chunk_rows_;
  device_array<double> totals_;         // μ totals of one chunk of a batch: scratch, not state
  device_array<double> partials_;       // few classes: per-segment class sums of a chunk: scratch
  keyed_row_adder adder_;               // many classes: the chunk's rows grouped by label: scratch
  mutable device_bookkeeping books_;    // finalize is const but counts NaN units on the device
};

}  // namespace memloc::detail::cuda
