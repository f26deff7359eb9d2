#pragma once

// State and arithmetic of the host UnitMem accumulator. Arguments arrive validated.

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../../exec.hpp"
#include "../../options.hpp"
#include "../../state.hpp"
#include "../../view.hpp"
#include "../formulas.hpp"
#include "../sample_set.hpp"
#include "column_stats.hpp"
#include "fold.hpp"
#include "parallel.hpp"
#include "unit_writer.hpp"

namespace memloc::detail::host {

// Units per parallel task when adding per-unit partials or per-sample rows: each task adds
// its units' values in a fixed order, so results do not depend on the thread count.
inline constexpr index_t update_unit_block = 64;

// Samples per task of the per-unit update, and at least 32 tasks per batch so threads share
// the work evenly. A task that folds takes few enough that its fp64 totals (about 256 KB)
// stay in cache. One that reads μ directly keeps no totals, only partial sums that are
// written and read back (tasks × units doubles), so it takes enough samples for at most
// direct_update_tasks tasks: with the cache bound alone, U = 3 072 gave 10 samples a task
// and 123 MB of partial sums per 614 MB batch.
inline constexpr index_t direct_update_tasks = 256;
inline index_t samples_per_update_task(index_t samples, index_t units, bool direct) noexcept {
  index_t by_cache = (index_t{1} << 15) / std::max<index_t>(1, units);
  if (direct) by_cache = std::max(by_cache, (samples + direct_update_tasks - 1) / direct_update_tasks);
  const index_t by_balance = (samples + 31) / 32;
  return std::max<index_t>(1, std::min(by_cache, by_balance));
}

// Packed (μ, id) maxima of every unit, with each maximum also kept as a float: most new
// values are below it, and one comparison rules them out before a key is packed.
struct max_keys {
  std::vector<std::uint64_t> keys;
  std::vector<float> current;  // key_value(keys[u]); NaN for the empty key and for a NaN max

  explicit max_keys(const std::vector<std::uint64_t>& seed) : keys(seed), current(seed.size()) {
    for (std::size_t u = 0; u < seed.size(); ++u) current[u] = key_value(seed[u]);
  }

  void raise(std::vector<std::uint64_t>& into) const noexcept {
    for (std::size_t u = 0; u < keys.size(); ++u) into[u] = std::max(into[u], keys[u]);
  }
};

// Units whose new values are compared with their maxima at once, and whose fp64 sums stay
// in registers while a tile of rows is added: a group is looked at one unit at a time only
// when one of its values can win, which after the first samples is rare.
inline constexpr index_t max_check_group = 16;

// Rows added per pass over a group: the group's sums are loaded and stored once per tile
// rather than once per row.
inline constexpr index_t mu_tile_rows = 16;

// The rows of one tile: one from each of up to mu_tile_rows stretches of `stretch`
// consecutive rows, row(i) = step + i * stretch. Walking the steps in order reads every
// stretch front to back, so a tile's loads extend mu_tile_rows sequential streams that the
// hardware prefetcher follows. Tiles of adjacent rows instead read short rows (U = 256 fp32
// is 16 cache lines) as interleaved strides within a page, which it did not follow: the loads
// waited on memory and the direct update ran at a third of the read roofline.
struct row_tile {
  index_t step, stretch, height, next_height;
  index_t row(index_t i) const noexcept { return step + i * stretch; }
};

// Raises the maxima of units [first, first + width) with one row's μ (x[j] for unit
// first + j). The exact path, taken for the few rows where some value is not below its
// unit's maximum: NaN compares false and so always takes it, as does a unit's first sample
// (the empty key's value is NaN).
inline void raise_maxima(const float* x, index_t first, index_t width, std::int64_t id, max_keys& maxima) noexcept {
  for (index_t j = 0; j < width; ++j) {
    const auto u = static_cast<std::size_t>(first + j);
    if (x[j] < maxima.current[u]) continue;
    const std::uint64_t key = pack_max_key(x[j], id);
    if (key > maxima.keys[u]) {
      maxima.keys[u] = key;
      maxima.current[u] = key_value(key);
    }
  }
}

// Units [first, first + width) over a tile of rows, a row at a time: the partial group at
// the end of a row, and every group where SSE2 is missing.
template <class Source, class Id>
void add_mu_units(const Source& source, row_tile tile, index_t first, index_t width, Id id_of, double* sums,
                  max_keys& maxima) noexcept {
  float buffer[max_check_group];
  for (index_t i = 0; i < tile.height; ++i) {
    const float* x = source.mu(tile.row(i), first, buffer, width);
    for (index_t j = 0; j < width; ++j) sums[first + j] += static_cast<double>(x[j]);
    raise_maxima(x, first, width, id_of(tile.row(i)), maxima);
  }
}

// One full group of units over a tile of rows: their sums in registers across the tile, one
// vector comparison per four values against the maxima, and the exact path only for the
// rows that need it. Written with SSE2
// intrinsics: from plain loops GCC 12 kept the sums and maxima on the stack and tested
// every unit with its own scalar comparison and branch, and its vector extensions widened
// fp32 to fp64 one value at a time.
#if defined(__SSE2__)
template <class Source, class Id>
void add_mu_group(const Source& source, row_tile tile, index_t first, Id id_of, double* sums,
                  max_keys& maxima) noexcept {
  static_assert(max_check_group % 4 == 0, "the group is read four values at a time");
  constexpr index_t quads = max_check_group / 4;
  float buffer[max_check_group];
  __m128d acc[2 * quads];
  __m128 top[quads];
  for (index_t q = 0; q < quads; ++q) {
    acc[2 * q] = _mm_loadu_pd(sums + first + 4 * q);
    acc[2 * q + 1] = _mm_loadu_pd(sums + first + 4 * q + 2);
    top[q] = _mm_loadu_ps(maxima.current.data() + first + 4 * q);
  }
  for (index_t i = 0; i < tile.height; ++i) {
    if (i < tile.next_height) source.read_ahead(tile.row(i) + 1, first);
    const float* x = source.mu(tile.row(i), first, buffer, max_check_group);
    // All lanes below their maximum (so neither NaN nor a unit's first sample) is the
    // usual case.
    __m128 below = _mm_castsi128_ps(_mm_set1_epi32(-1));
    for (index_t q = 0; q < quads; ++q) {
      const __m128 four = _mm_loadu_ps(x + 4 * q);
      acc[2 * q] = _mm_add_pd(acc[2 * q], _mm_cvtps_pd(four));
      acc[2 * q + 1] = _mm_add_pd(acc[2 * q + 1], _mm_cvtps_pd(_mm_movehl_ps(four, four)));
      below = _mm_and_ps(below, _mm_cmplt_ps(four, top[q]));
    }
    if (_mm_movemask_ps(below) == 0xF) continue;
    raise_maxima(x, first, max_check_group, id_of(tile.row(i)), maxima);
    for (index_t q = 0; q < quads; ++q) top[q] = _mm_loadu_ps(maxima.current.data() + first + 4 * q);
  }
  for (index_t q = 0; q < quads; ++q) {
    _mm_storeu_pd(sums + first + 4 * q, acc[2 * q]);
    _mm_storeu_pd(sums + first + 4 * q + 2, acc[2 * q + 1]);
  }
}
#else
template <class Source, class Id>
void add_mu_group(const Source& source, row_tile tile, index_t first, Id id_of, double* sums,
                  max_keys& maxima) noexcept {
  add_mu_units(source, tile, first, max_check_group, id_of, sums, maxima);
}
#endif

// Adds rows [0, count) of a μ source to sums and raises the maxima with (μ, id_of(row)).
// Each unit's rows are added in an order fixed by count alone (the tiles' steps in turn,
// each tile's stretches in turn), so the sums do not depend on the thread count.
// source.mu(r, first, buffer, width) points at the fp32 μ of units [first, first + width)
// of row r: in place where the source holds fp32 μ, else converted into buffer.
template <class Source, class Id>
void add_mu_rows(const Source& source, index_t count, index_t units, Id id_of, double* sums, max_keys& maxima) noexcept {
  const index_t stretch = (count + mu_tile_rows - 1) / mu_tile_rows;
  for (index_t step = 0; step < stretch; ++step) {
    // The last stretches may be shorter than the others, or empty.
    const auto height = [&](index_t at) { return std::min(mu_tile_rows, (count - at + stretch - 1) / stretch); };
    const row_tile tile{step, stretch, height(step), step + 1 < stretch ? height(step + 1) : 0};
    index_t first = 0;
    for (; first + max_check_group <= units; first += max_check_group) {
      add_mu_group(source, tile, first, id_of, sums, maxima);
    }
    if (first < units) add_mu_units(source, tile, first, units - first, id_of, sums, maxima);
  }
}

// μ read directly from a batch with one view and one position: row r of the task is
// sample begin + r. fp32 without a transform is μ as it lies.
template <class Op, class W, class T>
struct direct_mu_source {
  const T* data;
  index_t stride, begin;

  const float* mu(index_t r, index_t first, float* buffer, index_t width) const noexcept {
    const T* row = data + (begin + r) * stride + first;
    if constexpr (std::is_same_v<T, float> && std::is_same_v<Op, transform_op<activation_transform::none>>) {
      return row;
    } else {
      for (index_t j = 0; j < width; ++j) buffer[j] = static_cast<float>(Op::apply(load_as<W>(row[j])));
      return buffer;
    }
  }

  // Asks for the line holding unit `first` of row r. A group of 16 values of 4 bytes or
  // fewer that straddles two lines has its second one asked for by the next group; fp64
  // groups (128 bytes) leave every second line to the hardware prefetcher.
  void read_ahead(index_t r, index_t first) const noexcept {
#if defined(__GNUC__)
    __builtin_prefetch(data + (begin + r) * stride + first);
#else
    (void)r;
    (void)first;
#endif
  }
};

// μ from a task's folded totals, row r at totals + r * units.
struct totals_mu_source {
  const double* totals;
  index_t units, elements;

  const float* mu(index_t r, index_t first, float* buffer, index_t width) const noexcept {
    const double* row = totals + r * units + first;
    for (index_t j = 0; j < width; ++j) buffer[j] = mu_from_total(row[j], elements);
    return buffer;
  }

  // A task's totals were just written and are in cache.
  void read_ahead(index_t, index_t) const noexcept {}
};

class unitmem_per_unit_state {
 public:
  // values_per_sample (views times positions) changes nothing here: the state is per unit.
  unitmem_per_unit_state(index_t samples, index_t units, index_t /*values_per_sample*/)
      : sums_(static_cast<std::size_t>(units), 0.0), keys_(static_cast<std::size_t>(units), empty_max_key),
        seen_(samples) {}

  // Tasks of fixed sample ranges each fold their samples and add their μ to partial sums
  // in sample order; the partials are then added in task order. The ranges depend on the
  // batch shape alone, so the sums do not depend on the thread count, and a task's totals
  // stay in cache between its fold and its reduction. Maxima are exact in any order, so
  // each thread keeps one set of keys across its tasks, seeded with the state's.
  template <class T, class Space, class IdView>
  void update(const host_exec& exec, const activations_view<const T, Space>& batch, const IdView& ids,
              activation_transform transform) {
    using W = working_t<T>;
    const index_t samples = batch.extent(0), units = batch.extent(2);
    const index_t elements = batch.extent(1) * batch.extent(3);
    if (samples == 0 || units == 0) return;
    const bool direct = elements == 1 && batch.stride(2) == 1;
    const index_t per_task = samples_per_update_task(samples, units, direct);
    const index_t tasks = (samples + per_task - 1) / per_task;
    partial_sums_.resize(static_cast<std::size_t>(tasks * units));
    const fold_plan<T, Space> plan(batch);
    struct thread_scratch {
      std::vector<W> fold;
      std::vector<double> totals;
      max_keys maxima;
    };
    std::vector<thread_scratch> scratch(
        static_cast<std::size_t>(worker_count(exec, tasks)),
        // The direct read neither folds nor keeps totals.
        thread_scratch{std::vector<W>(static_cast<std::size_t>(direct ? 0 : plan.scratch_size())),
                       std::vector<double>(static_cast<std::size_t>(direct ? 0 : per_task * units)),
                       max_keys(keys_)});
    dispatch_transform(transform, [&](auto op) {
      using Op = decltype(op);
      parallel_for_with_scratches(tasks, scratch, [&](index_t k, thread_scratch& mine) {
        const index_t begin = k * per_task, count = std::min(per_task, samples - begin);
        double* sums = partial_sums_.data() + k * units;
        std::fill_n(sums, units, 0.0);
        const auto id_of = [&](index_t r) { return static_cast<std::int64_t>(ids(begin + r)); };
        if (direct) {
          // One view, one position: the batch is a μ matrix already, read without a fold.
          const direct_mu_source<Op, W, T> source{batch.data_handle(), batch.stride(0), begin};
          add_mu_rows(source, count, units, id_of, sums, mine.maxima);
          return;
        }
        double* totals = mine.totals.data();
        for (index_t b = 0; b < count; ++b) {
          if (elements == 0) {
            std::fill_n(totals + b * units, units, 0.0);
          } else {
            plan.template fold_sample<Op, W>(begin + b, mine.fold.data(), totals + b * units);
          }
        }
        add_mu_rows(totals_mu_source{totals, units, elements}, count, units, id_of, sums, mine.maxima);
      });
    });
    for (const thread_scratch& s : scratch) s.maxima.raise(keys_);
    parallel_for(exec, (units + update_unit_block - 1) / update_unit_block, [&](index_t block) {
      const index_t first = block * update_unit_block, last = std::min(units, first + update_unit_block);
      for (index_t k = 0; k < tasks; ++k) {
        const double* sums = partial_sums_.data() + k * units;
        for (index_t u = first; u < last; ++u) sums_[static_cast<std::size_t>(u)] += sums[u];
      }
    });
    seen_.insert(ids);
  }

  void merge(const unitmem_per_unit_state& other) noexcept {
    for (std::size_t u = 0; u < sums_.size(); ++u) {
      sums_[u] += other.sums_[u];
      if (other.keys_[u] > keys_[u]) keys_[u] = other.keys_[u];
    }
    seen_.merge(other.seen_);
  }

  unit_counts finalize(index_t samples, const unit_outputs& out) const noexcept {
    unit_counts counts;
    for (std::size_t u = 0; u < sums_.size(); ++u) {
      const double top = key_value(keys_[u]);
      const double rest = mean_of_others(sums_[u], top, samples);
      write_unit(out, static_cast<index_t>(u), top, key_id(keys_[u]), rest, counts);
    }
    return counts;
  }

  void reset(const host_exec&) noexcept {
    std::fill(sums_.begin(), sums_.end(), 0.0);
    std::fill(keys_.begin(), keys_.end(), empty_max_key);
    seen_.reset();
  }

  sample_set& seen() noexcept { return seen_; }
  const sample_set& seen() const noexcept { return seen_; }

  std::vector<state_buffer> buffers() {
    return {{"mu_sums", sums_.data(), sums_.size(), state_element::f64, state_reduction::sum},
            {"mu_max_keys", keys_.data(), keys_.size(), state_element::u64, state_reduction::max},
            {"sample_folds", seen_.counts(), seen_.size(), state_element::i32, state_reduction::sum}};
  }

 private:
  std::vector<double> sums_;
  std::vector<std::uint64_t> keys_;
  sample_set seen_;
  std::vector<double> partial_sums_;  // per-batch scratch, not state: one row per task
};

// Keeps every sample's activation sums over its views and positions. Where the shape gives
// a sample one view and one position, its one value is its μ, and μ itself is kept in fp32
// (the value to_mu gives for a total over one element): half the bytes to zero, write and
// read at finalize, the same results to the bit. Either store is merged by its sum.
class unitmem_per_sample_state {
 public:
  unitmem_per_sample_state(index_t samples, index_t units, index_t values_per_sample)
      : units_(units), single_value_(values_per_sample == 1), views_(static_cast<std::size_t>(samples), 0) {
    const auto size = static_cast<std::size_t>(samples * units);
    if (single_value_) {
      mu_.assign(size, 0.0f);
    } else {
      sums_.assign(size, 0.0);
    }
  }

  std::int64_t views_folded(index_t id) const noexcept { return views_[static_cast<std::size_t>(id)]; }

  // distinct_ids: no id appears twice in this batch (the accumulator's view budget check
  // knows). Each sum then takes at most one row of the batch, whatever the task split.
  template <class T, class Space, class IdView>
  void update(const host_exec& exec, const activations_view<const T, Space>& batch, const IdView& ids,
              activation_transform transform, bool distinct_ids) {
    using W = working_t<T>;
    const index_t samples = batch.extent(0), views = batch.extent(1);
    with_store(*this, [&](auto* store) {
      using S = std::remove_pointer_t<decltype(store)>;
      if (views * batch.extent(3) == 1 && batch.stride(2) == 1) {
        // One view, one position: each value is its own total, added without a fold (into
        // fp32 μ as accumulate() says).
        dispatch_transform(transform, [&](auto op) {
          using Op = decltype(op);
          add_rows(exec, store, samples, ids, distinct_ids, [&](index_t b, S* row, index_t first, index_t last) {
            const T* values = batch.data_handle() + b * batch.stride(0);
            for (index_t u = first; u < last; ++u) accumulate(row[u], static_cast<double>(Op::apply(load_as<W>(values[u]))));
          });
        });
      } else {
        totals_.resize(static_cast<std::size_t>(samples * units_));
        fold_totals(exec, batch, transform, totals_.data());
        add_rows(exec, store, samples, ids, distinct_ids, [&](index_t b, S* row, index_t first, index_t last) {
          const double* t = totals_.data() + b * units_;
          for (index_t u = first; u < last; ++u) accumulate(row[u], t[u]);
        });
      }
    });
    for (index_t b = 0; b < samples; ++b) views_[static_cast<std::size_t>(ids(b))] += views;
  }

  // The accumulator has checked that no sample's views exceed the budget together, so a
  // sample of other's fp32 rows is one this state has not folded: its row is copied, where
  // adding it to zeros in fp32 would turn a -0 into +0 (fp64 sums keep the tiny negative
  // value that rounds to it).
  void merge(const unitmem_per_sample_state& other) noexcept {
    for (std::size_t i = 0; i < sums_.size(); ++i) sums_[i] += other.sums_[i];
    for (std::size_t id = 0; single_value_ && id < views_.size(); ++id) {
      if (other.views_[id] == 0) continue;
      const auto row = static_cast<std::ptrdiff_t>(id) * units_;
      std::copy(other.mu_.begin() + row, other.mu_.begin() + row + units_, mu_.begin() + row);
    }
    for (std::size_t i = 0; i < views_.size(); ++i) views_[i] += other.views_[i];
  }

  unit_counts finalize(const host_exec& exec, index_t views, index_t positions, rest_reduction rest,
                       const unit_outputs& out) const {
    std::vector<std::int64_t> ids;
    for (std::size_t id = 0; id < views_.size(); ++id) {
      if (views_[id] != 0) ids.push_back(static_cast<std::int64_t>(id));
    }
    const auto rows = static_cast<index_t>(ids.size());
    std::vector<unit_column_stats> stats(static_cast<std::size_t>(units_));
    with_store(*this, [&](const auto* store) {
      using S = std::remove_const_t<std::remove_pointer_t<decltype(store)>>;
      column_stats(exec, mu_rows<S>{store, ids.data(), units_, views * positions}, rows, rest, stats.data());
    });
    unit_counts counts;
    for (index_t u = 0; u < units_; ++u) {
      const unit_column_stats& s = stats[static_cast<std::size_t>(u)];
      write_unit(out, u, s.top, ids[static_cast<std::size_t>(s.top_row)], s.rest, counts);
    }
    return counts;
  }

  void reset(const host_exec& exec) {
    if (single_value_) {
      parallel_fill(exec, mu_, 0.0f);
    } else {
      parallel_fill(exec, sums_, 0.0);
    }
    std::fill(views_.begin(), views_.end(), 0);
  }

  std::vector<state_buffer> buffers() {
    state_buffer samples = !single_value_
                               ? state_buffer{"sample_sums", sums_.data(), sums_.size(), state_element::f64, state_reduction::sum}
                               : state_buffer{"sample_mu", mu_.data(), mu_.size(), state_element::f32, state_reduction::sum};
    return {samples, {"sample_views", views_.data(), views_.size(), state_element::i64, state_reduction::sum}};
  }

 private:
  // Rows of a batch per task where ids are distinct.
  static constexpr index_t rows_per_task = 64;

  // A batch row's value (or total) into its sample's slot: added to fp64 sums; into fp32 μ,
  // which takes one between resets (the view budget refuses a second), added to zero in
  // fp64 and then narrowed, as a one-element fp64 sum is at finalize (a -0 becomes +0, a
  // tiny negative double -0).
  static void accumulate(double& slot, double value) noexcept { slot += value; }
  static void accumulate(float& slot, double value) noexcept { slot = static_cast<float>(value + 0.0); }

  // f(the store's first element): fp32 μ, or fp64 sums; Self is const for a const use.
  template <class Self, class F>
  static void with_store(Self& self, F&& f) {
    if (self.single_value_) {
      f(self.mu_.data());
    } else {
      f(self.sums_.data());
    }
  }

  // Calls add_row(b, store row of ids(b), first, last) to add units [first, last) of batch
  // row b. Distinct ids: tasks take ranges of whole rows, reading the batch and each store
  // row front to back. Ids that repeat (views of one sample in one batch) must be added in
  // row order: each task then owns a block of units and walks every row, reading a block's
  // slice of each row (64 units of fp64 sums: 512 bytes of a 4 KB row at U = 512), which
  // the hardware prefetcher follows poorly.
  template <class S, class IdView, class AddRow>
  void add_rows(const host_exec& exec, S* store, index_t samples, const IdView& ids, bool distinct_ids,
                AddRow&& add_row) {
    const auto row_of = [&](index_t b) { return store + static_cast<std::int64_t>(ids(b)) * units_; };
    if (distinct_ids) {
      parallel_for(exec, (samples + rows_per_task - 1) / rows_per_task, [&](index_t k) {
        const index_t last = std::min(samples, (k + 1) * rows_per_task);
        for (index_t b = k * rows_per_task; b < last; ++b) add_row(b, row_of(b), index_t{0}, units_);
      });
      return;
    }
    parallel_for(exec, (units_ + update_unit_block - 1) / update_unit_block, [&](index_t k) {
      const index_t first = k * update_unit_block, last = std::min(units_, first + update_unit_block);
      for (index_t b = 0; b < samples; ++b) add_row(b, row_of(b), first, last);
    });
  }

  index_t units_;
  bool single_value_;                // one view and one position per sample: μ is kept
  std::vector<double> sums_;         // [samples, units]: activation sums over views and positions
  std::vector<float> mu_;            // [samples, units]: μ, where a sample has one value per unit
  std::vector<std::int64_t> views_;  // views folded per sample
  std::vector<double> totals_;       // per-batch scratch, not state
};

}  // namespace memloc::detail::host
