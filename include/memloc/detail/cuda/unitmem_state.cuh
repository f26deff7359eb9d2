#pragma once

// State and arithmetic of the device UnitMem accumulator, one class per storage as on the
// host (detail/unitmem_storage.hpp). Arguments arrive validated on the host; ids are
// validated by the kernels (see accumulator_support.cuh).

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "memloc/detail/cuda/accumulator_support.cuh"
#include "memloc/detail/cuda/fold.cuh"
#include "memloc/detail/metric_checks.hpp"
#include "memloc/detail/cuda/launch.cuh"
#include "memloc/detail/cuda/row_groups.cuh"
#include "memloc/kernels/unitmem.cuh"
#include "memloc/options.hpp"
#include "memloc/state.hpp"
#include "memloc/unitmem_types.hpp"

namespace memloc::detail::cuda {

// Slots of partial sums a chunk of `rows` rows fills in the per_unit update.
inline index_t segment_slots(index_t rows) { return (rows + kernels::segment_rows - 1) / kernels::segment_rows; }

// Tiles of a per_unit update over `units`, each 32 threads wide of units_per_thread units.
inline index_t unit_tiles(index_t units, index_t units_per_thread = 1) {
  const index_t tile = kernels::column_tile_units * units_per_thread;
  return (units + tile - 1) / tile;
}

// Slots of the per_unit state: a chunk's segments where batches are folded, and enough
// that a batch read directly (one element per (row, unit)) of enough rows spreads over about
// per_unit_blocks blocks of 32-unit tiles (a quarter or half as many where a thread takes
// grouped_units units), several per multiprocessor (segments hold at least 8 rows). In the
// emulated build (tests only) four blocks, so that the tests' batches of a few hundred rows
// are read directly in segments of many rows, several stages of ids each, as the GPU's
// batches of many thousands are.
#if defined(MEMLOC_CUDA_EMULATED)
inline constexpr index_t per_unit_blocks = 4;
#else
inline constexpr index_t per_unit_blocks = 2048;
#endif
inline index_t per_unit_slots(index_t units, index_t chunk_rows, bool folds_batches) {
  const index_t for_blocks = (per_unit_blocks + unit_tiles(units) - 1) / unit_tiles(units);
  return folds_batches && segment_slots(chunk_rows) > for_blocks ? segment_slots(chunk_rows) : for_blocks;
}

// Id segments in a per_sample finalize: its columns span the whole id space (up to millions
// of ids), so they are cut finer.
inline constexpr index_t id_segments = 256;

// Returned by either state's finalize.
struct unitmem_finalized {
  index_t samples;
  index_t nan_units;
  index_t negative_denominator_units;
};

// What both storages need to fold a batch and finish a finalize: the chunk size and one
// chunk's μ totals (scratch, not state), and the bookkeeping of deferred input problems and
// NaN counters.
class unitmem_folding {
 public:
  // Without `folds_batches`, a state that only ever reads its batches directly (per_unit
  // storage of one view and one position): no totals are allocated.
  unitmem_folding(index_t units, index_t most_rows, bool folds_batches, const char* function)
      : chunk_rows_(chunk_rows_for(units, most_rows)), totals_(folds_batches ? chunk_rows_ * units : 0, function),
        books_(function) {}

  // Mutable: finalize is const but counts NaN units on the device.
  device_bookkeeping& books() const noexcept { return books_; }
  index_t chunk_rows() const noexcept { return chunk_rows_; }

  // Registers a batch of `rows` rows' ids on the device (counts[id] += increment).
  template <class I, class IdSpace, class Count>
  void register_rows(cudaStream_t stream, index_t rows, const vector_view<I, IdSpace>& ids, index_t id_space,
                     Count* counts, Count increment, const char* function) {
    const long long batch_number = books_.next_batch(function);
    register_batch(stream, index_list_of(ids), no_labels(), rows, id_space, 0, batch_number, counts, increment, nullptr,
                   books_.status(), function);
  }

  // Registers the batch's ids, then folds the batch chunk by chunk; add(first, count, totals)
  // adds each chunk to the state.
  template <class T, class Space, class I, class IdSpace, class Count, class Add>
  void fold(cudaStream_t stream, const activations_view<T, Space>& batch, const vector_view<I, IdSpace>& ids,
            index_t id_space, Count* counts, Count increment, activation_transform transform, const char* function,
            Add&& add) {
    const index_t rows = batch.extent(0);
    if (rows == 0) return;
    register_rows(stream, rows, ids, id_space, counts, increment, function);
    for (index_t first = 0; first < rows; first += chunk_rows_) {
      const index_t count = rows - first < chunk_rows_ ? rows - first : chunk_rows_;
      fold_totals(function, batch, first, count, transform, totals_.data(), stream);
      add(first, count, static_cast<const double*>(totals_.data()));
    }
  }

  // After the finalize kernels: the policy cases they counted, waiting for the stream.
  unitmem_finalized finished(index_t samples, cudaStream_t stream, const char* function) const {
    unsigned long long counts[2] = {0, 0};
    books_.read_counters(counts, stream, function);
    return {samples, static_cast<index_t>(counts[0]), static_cast<index_t>(counts[1])};
  }

 private:
  index_t chunk_rows_;
  device_array<double> totals_;
  mutable device_bookkeeping books_;
};

// per_unit storage: a sum and a packed (μ, id) maximum per unit, and a fold count per id.
class unitmem_per_unit_state {
 public:
  unitmem_per_unit_state(cudaStream_t stream, const unitmem_shape& shape, const char* function)
      : shape_(shape), sums_(shape.units, function), keys_(shape.units, function), folds_(shape.samples, function),
        folding_(shape.units, shape.samples, shape.views * shape.positions > 1, function),
        slots_(per_unit_slots(shape.units, folding_.chunk_rows(), shape.views * shape.positions > 1)),
        partials_(slots_ * shape.units, function) {
    reset(stream, function);
  }

  template <class T, class Space, class I, class IdSpace>
  void update(cudaStream_t stream, const activations_view<T, Space>& batch, const vector_view<I, IdSpace>& ids,
              activation_transform transform, const char* function) {
    const index_t elements = batch.extent(1) * batch.extent(3);
    const index_t rows = batch.extent(0);
    if (rows == 0) return;
    const index_t tiles = unit_tiles(shape_.units);
    auto* const keys = reinterpret_cast<unsigned long long*>(keys_.data());
    index_t slots_used = 0;
    if (elements == 1) {
      // μ handed over directly (one view, one position): the whole batch in one launch,
      // without the totals' round trip, which would move 16 bytes per 2 or 4 read. With more
      // elements per total the round trip is small beside them, and the fold's thread per
      // (row, unit) keeps more loads in flight (token-major ViT layers ran 1.75 times slower
      // on the H200 when their totals were computed in the update kernel).
      folding_.register_rows(stream, rows, ids, shape_.samples, folds_.data(), std::int32_t{1}, function);
      // Segments of at least column_tile_lanes rows, so no lane of a block idles while there
      // are rows for it.
      index_t length = (rows + slots_ - 1) / slots_;
      if (length < kernels::column_tile_lanes) length = kernels::column_tile_lanes;
      slots_used = (rows + length - 1) / length;
      using E = std::remove_const_t<T>;
      const kernels::fold_rows<E> whole(batch.data_handle(), {rows, batch.extent(1), batch.extent(2), batch.extent(3)},
                                        batch.strides());
      dispatch_transform(transform, [&](auto op) {
        auto add_rows = [&](auto width) {
          using Totals = kernels::totals_of_elements<decltype(op), E, decltype(width)::value>;
          launch(function, "the state update kernel", kernels::add_rows_per_unit<Totals>,
                 kernels::grid_for(unit_tiles(shape_.units, Totals::units_per_thread) * slots_used, 1),
                 kernels::block_threads, 0, stream, Totals{whole}, rows, length, shape_.units, elements,
                 index_list_of(ids), shape_.samples, partials_.data(), keys);
        };
        if (groups_units(batch)) {
          add_rows(std::integral_constant<int, kernels::grouped_units<E>>{});
        } else {
          add_rows(std::integral_constant<int, 1>{});
        }
      });
    } else {
      folding_.fold(stream, batch, ids, shape_.samples, folds_.data(), std::int32_t{1}, transform, function,
                    [&](index_t first, index_t count, const double* totals) {
        launch(function, "the state update kernel", kernels::add_rows_per_unit<kernels::totals_in_scratch>,
               kernels::grid_for(tiles * segment_slots(count), 1), kernels::block_threads, 0, stream,
               kernels::totals_in_scratch{totals, shape_.units}, count, kernels::segment_rows, shape_.units, elements,
               index_list_of(ids, first), shape_.samples, partials_.data(), keys);
      });
      // Every chunk but the last is chunk_rows long, so the first chunk used the most slots.
      slots_used = segment_slots(rows < folding_.chunk_rows() ? rows : folding_.chunk_rows());
    }
    launch(function, "the state update kernel", kernels::add_partials<>,
           kernels::grid_for((shape_.units + kernels::partial_tile_units - 1) / kernels::partial_tile_units, 1),
           kernels::block_threads, 0, stream, partials_.data(), slots_used, shape_.units, sums_.data());
  }

  void merge(cudaStream_t stream, const unitmem_per_unit_state& other, const char* function, const char* updating) {
    folding_.books().check_mergeable_folds(other.folding_.books(), folds_.data(), other.folds_.data(), shape_.samples,
                                         stream, function, updating);
    add_state(sums_, other.sums_, stream, function);
    launch(function, "the merge kernel", kernels::max_into<>, kernels::grid_for(keys_.size()), kernels::block_threads,
           0, stream, keys_.data(), other.keys_.data(), keys_.size());
    add_state(folds_, other.folds_, stream, function);
  }

  // Validates the folded samples, then writes the outputs.
  unitmem_finalized finalize(cudaStream_t stream, const unit_outputs& out, const char* function,
                             const char* updating) const {
    device_bookkeeping& books = folding_.books();
    const auto s =
        books.summarize<std::int32_t>(folds_.data(), nullptr, shape_.samples, 1, 1, stream, function, updating);
    if (s.first_over < shape_.samples) {
      fail(function,
           "each sample must be folded once (within a batch, across batches and across merged states), got sample id ",
           s.first_over, " folded ", read_element(folds_.data(), s.first_over, stream, function), " times");
    }
    const auto samples = static_cast<index_t>(s.distinct);
    require_two_samples(function, samples);
    books.zero_counters(stream, function);
    launch(function, "the finalize kernel", kernels::finalize_per_unit<>, kernels::grid_for(shape_.units),
           kernels::block_threads, 0, stream, sums_.data(), keys_.data(), shape_.units, samples, out, books.counters());
    return folding_.finished(samples, stream, function);
  }

  void reset(cudaStream_t stream, const char* function) {
    sums_.zero(stream, function);
    partials_.zero(stream, function);  // add_partials keeps them zero between updates
    keys_.zero(stream, function);  // key 0 is the identity of max
    folds_.zero(stream, function);
    folding_.books().reset(stream, function);
  }

  std::vector<state_buffer> buffers() {
    return {{"mu_sums", sums_.data(), static_cast<std::size_t>(sums_.size()), state_element::f64, state_reduction::sum},
            {"mu_max_keys", keys_.data(), static_cast<std::size_t>(keys_.size()), state_element::u64,
             state_reduction::max},
            {"sample_folds", folds_.data(), static_cast<std::size_t>(folds_.size()), state_element::i32,
             state_reduction::sum}};
  }

 private:
  // Whether a thread of the direct read can take grouped_units neighbouring units in one
  // load of 8 or 16 bytes: units contiguous, a multiple of the group, at least a warp's worth
  // of groups (fewer would idle part of every warp), and every row's groups aligned to the
  // load's size. The H200 ran the one-unit read at 1.3 TB/s at ImageNet scale, its loads of
  // 4 bytes too few in flight.
  template <class T, class Space>
  bool groups_units(const activations_view<T, Space>& batch) const {
    constexpr index_t group = kernels::grouped_units<std::remove_const_t<T>>;
    constexpr std::size_t load_bytes = sizeof(T) * group;
    return batch.stride(2) == 1 && shape_.units % group == 0 && shape_.units >= group * kernels::column_tile_units &&
           reinterpret_cast<std::uintptr_t>(batch.data_handle()) % load_bytes == 0 &&
           static_cast<std::size_t>(batch.stride(0)) * sizeof(T) % load_bytes == 0;
  }

  unitmem_shape shape_;
  device_array<double> sums_;         // [units]
  device_array<std::uint64_t> keys_;  // packed (μ, id) maxima
  device_array<std::int32_t> folds_;  // folds per sample id
  unitmem_folding folding_;
  index_t slots_;
  device_array<double> partials_;     // scratch of an update: its segment sums, slot by slot
};

// per_sample storage: activation sums per (sample id, unit) and the views folded per id, so
// views may arrive in any batches and the median can see every μ.
class unitmem_per_sample_state {
 public:
  unitmem_per_sample_state(cudaStream_t stream, const unitmem_shape& shape, const char* function)
      : shape_(shape), sums_(shape.samples * shape.units, function), views_(shape.samples, function),
        partials_(id_segments * shape.units, function), column_keys_(shape.units, function),
        histograms_(kernels::median_digits * shape.units, function), selection_(shape.units, function),
        folding_(shape.units, shape.samples * shape.views, true, function),
        adder_(folding_.chunk_rows(), shape.samples, function) {
    reset(stream, function);
  }

  template <class T, class Space, class I, class IdSpace>
  void update(cudaStream_t stream, const activations_view<T, Space>& batch, const vector_view<I, IdSpace>& ids,
              activation_transform transform, const char* function) {
    folding_.fold(stream, batch, ids, shape_.samples, views_.data(), static_cast<std::int64_t>(batch.extent(1)), transform,
                  function, [&](index_t first, index_t count, const double* totals) {
      // Ids may repeat within a chunk (views of one sample in several rows): grouped by id,
      // each (id, unit) adds its rows in row order.
      adder_.add(stream, totals, count, shape_.units, 0, index_list_of(ids, first), no_labels(), shape_.samples, 0,
                 sums_.data(), function);
    });
  }

  void merge(cudaStream_t stream, const unitmem_per_sample_state& other, const char* function, const char* updating) {
    const device_bookkeeping& books = folding_.books();
    books.raise_recorded(stream, function, updating);
    other.folding_.books().raise_recorded(stream, function, updating);
    const auto s = books.summarize<std::int64_t>(views_.data(), other.views_.data(), shape_.samples, shape_.views,
                                                 shape_.views, stream, function, updating);
    if (s.first_shared < shape_.samples) {
      fail(function, "views of sample id ", s.first_shared, " across both accumulators must be at most ", shape_.views,
           ", got ", read_element(views_.data(), s.first_shared, stream, function) +
                         read_element(other.views_.data(), s.first_shared, stream, function));
    }
    add_state(sums_, other.sums_, stream, function);
    add_state(views_, other.views_, stream, function);
  }

  // Validates the folded samples, then writes the outputs.
  unitmem_finalized finalize(cudaStream_t stream, rest_reduction rest, const unit_outputs& out, const char* function,
                             const char* updating) const {
    device_bookkeeping& books = folding_.books();
    const auto s = books.summarize<std::int64_t>(views_.data(), nullptr, shape_.samples, shape_.views, shape_.views,
                                                 stream, function, updating);
    if (s.first_over < shape_.samples) {
      fail(function, "views folded for sample id ", s.first_over, " must be at most ", shape_.views, ", got ",
           read_element(views_.data(), s.first_over, stream, function));
    }
    if (s.first_partial < shape_.samples) {
      fail(function, "every folded sample must have all ", shape_.views, " views, got ",
           read_element(views_.data(), s.first_partial, stream, function), " for sample id ", s.first_partial);
    }
    const auto samples = static_cast<index_t>(s.distinct);
    require_two_samples(function, samples);
    books.zero_counters(stream, function);
    const index_t elements = shape_.views * shape_.positions;
    const index_t segments = shape_.samples < id_segments ? shape_.samples : id_segments;
    auto* keys = reinterpret_cast<unsigned long long*>(column_keys_.data());
    column_keys_.zero(stream, function);
    launch(function, "the finalize kernel", kernels::column_partials<>,
           dim3(kernels::grid_for(shape_.units), static_cast<unsigned>(segments)), kernels::block_threads, 0, stream,
           sums_.data(), views_.data(), shape_.samples, shape_.units, elements, segments, partials_.data(), keys);
    if (rest == rest_reduction::mean) {
      launch(function, "the finalize kernel", kernels::finalize_per_sample_mean<>, kernels::grid_for(shape_.units),
             kernels::block_threads, 0, stream, partials_.data(), segments, keys, shape_.units, samples, out,
             books.counters());
    } else {
      median(stream, keys, elements, samples, out, function);
    }
    return folding_.finished(samples, stream, function);
  }

  void reset(cudaStream_t stream, const char* function) {
    sums_.zero(stream, function);
    views_.zero(stream, function);
    folding_.books().reset(stream, function);
  }

  std::vector<state_buffer> buffers() {
    return {{"sample_sums", sums_.data(), static_cast<std::size_t>(sums_.size()), state_element::f64, state_reduction::sum},
            {"sample_views", views_.data(), static_cast<std::size_t>(views_.size()), state_element::i64,
             state_reduction::sum}};
  }

 private:
  // The median of the others per unit, after column_partials wrote the maxima's keys: each
  // 8-bit pass counts over every (id segment, unit tile) and then picks the digits, and an
  // even count of others takes one more pass for the lower middle value.
  void median(cudaStream_t stream, const unsigned long long* keys, index_t elements, index_t samples,
              const unit_outputs& out, const char* function) const {
    const kernels::median_columns columns{sums_.data(), views_.data(), keys, shape_.samples, shape_.units, elements};
    const unsigned items = kernels::grid_for(kernels::median_items(shape_.samples, shape_.units), 1);
    const unsigned tiles = kernels::grid_for(kernels::median_tiles(shape_.units), 1);
    auto* histograms = reinterpret_cast<unsigned long long*>(histograms_.data());
    histograms_.zero(stream, function);  // median_pick_digits zeroes them again after each pass
    const index_t others = samples - 1;
    for (int shift = kernels::median_first_shift; shift >= 0; shift -= kernels::median_digit_bits) {
      launch(function, "the finalize kernel", kernels::median_count_digits<>, items, kernels::block_threads, 0, stream,
             columns, selection_.data(), shift, histograms);
      launch(function, "the finalize kernel", kernels::median_pick_digits<>, tiles, kernels::block_threads, 0, stream,
             histograms, keys, shape_.units, static_cast<unsigned long long>(others / 2), shift, selection_.data());
    }
    const bool two_middles = others % 2 == 0;
    if (two_middles) {
      launch(function, "the finalize kernel", kernels::median_lower_middle<>, items, kernels::block_threads, 0,
             stream, columns, selection_.data());
    }
    launch(function, "the finalize kernel", kernels::finalize_per_sample_median<>, kernels::grid_for(shape_.units),
           kernels::block_threads, 0, stream, keys, selection_.data(), shape_.units, two_middles, out,
           folding_.books().counters());
  }

  unitmem_shape shape_;
  device_array<double> sums_;         // [samples, units]
  device_array<std::int64_t> views_;  // views folded per sample id
  // Scratch of a finalize: partial sums of id segments and the per-unit maxima. Mutable:
  // finalize is const.
  mutable device_array<double> partials_;
  mutable device_array<std::uint64_t> column_keys_;
  // Scratch of a median finalize: per-unit 256-bin histograms of a pass, [digit][unit], and
  // each unit's selection so far.
  mutable device_array<std::uint64_t> histograms_;
  mutable device_array<kernels::median_selection> selection_;
  unitmem_folding folding_;
  keyed_row_adder adder_;  // scratch of an update: the chunk's rows grouped by id
};

}  // namespace memloc::detail::cuda
