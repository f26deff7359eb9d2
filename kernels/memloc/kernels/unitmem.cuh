#pragma once

// UnitMem and ClassMem state kernels: adding a chunk of μ totals to the state and the
// per-unit statistics of finalize. Floating-point sums are added in an order fixed by the
// shapes alone (lanes of a unit over the rows of a segment, then lanes and segment slots in a
// fixed order, or a thread per (key group, unit) over the group's rows in row order), so they do not depend on
// scheduling; only exact operations (integer counts, max of packed keys, histograms) use
// atomics. Registration of rows and state merges are shared by every accumulator
// (registration.cuh, state_merge.cuh).

#include <cstdint>

#include "memloc/detail/formulas.hpp"
#include "memloc/detail/unit_outputs.hpp"
#include "memloc/kernels/common.cuh"
#include "memloc/kernels/fold.cuh"
#include "memloc/kernels/index_list.cuh"
#include "memloc/kernels/registration.cuh"
#include "memloc/kernels/shared_memory.cuh"

namespace memloc::kernels {

// Kernels without a type parameter are templates all the same, so that this header can
// define them in every translation unit that includes it.

// per_unit storage: the rows are cut into segments of consecutive rows, and each (segment,
// tile of column_tile_units units, or of 2 or 4 times as many where a thread takes a group of
// units in one load) goes to one block. A unit's column is read by column_tile_lanes lanes
// taking every lanes-th row of the segment, so a warp reads 32 neighbouring threads' units of
// one row, and the grid holds thousands of blocks instead of a few
// dozen threads per unit, each with a long chain of dependent loads (the first GPU run
// measured 2-4 % of the roofline with one thread per (unit, one of 64 segments)). A chunk of
// totals is cut into segments of segment_rows rows; a batch of one element per (row, unit)
// is read directly, in at most as many segments as the state has slots. Sums stay in an order fixed by
// the shapes: lanes in order, then into the segment's slot of `partials`, which keeps adding
// the same segment of every chunk of the update until add_partials empties the slots into
// the sums.
inline constexpr index_t column_tile_units = warp_size;
inline constexpr index_t column_tile_lanes = block_threads / column_tile_units;
inline constexpr index_t segment_rows = 64;
inline constexpr int rows_in_flight = 8;
// A block reads the ids of this many rows of its segment at once, one per thread, into
// shared memory. A multiple of column_tile_lanes, so each lane keeps the rows it would take
// without staging (first + lane, first + lane + lanes, ...), in the same order. In the
// emulated build (tests only) two rows per lane, so that the tests' segments (64 rows of
// totals, or the direct read's longer ones: per_unit_blocks) take several stages, as the
// GPU's segments of thousands of rows do.
#if defined(MEMLOC_CUDA_EMULATED)
inline constexpr index_t staged_rows = 2 * column_tile_lanes;
#else
inline constexpr index_t staged_rows = block_threads;
#endif
static_assert(staged_rows % column_tile_lanes == 0, "a stage must keep every lane's rows in order");

// An id that the update skips: negative or outside the id space (register_rows records it).
inline constexpr std::uint64_t skipped_row = ~std::uint64_t{0};

template <int Width>
struct column_tile_scratch {
  double sums[column_tile_lanes][column_tile_units * Width];
  std::uint64_t keys[column_tile_lanes][column_tile_units * Width];
  std::uint64_t row_ids[staged_rows];
};

// One (segment, unit tile) of add_rows_per_unit per block, staged_rows rows at a time: the
// block reads the rows' ids into shared memory (each id is read once per block, not once per
// unit, and no total waits behind an id's load and range test: with ids read in the loop the
// H200 ran the direct read at about 0.4 TB/s; the next stage's ids load while this stage's
// totals are added), then every thread adds its lane's rows of its units (units_per_thread
// neighbours, 32 threads to a warp's row), loading several rows' totals before adding any.
// At the end the block adds the lanes' sums of each unit in lane order to the segment's slot
// and merges their packed (μ, id) maximum into keys[u] with atomicMax (exact, so in any
// order).
// At most 64 registers (four blocks per multiprocessor, no spills on sm_90): 78 left three,
// and with one element per (row, unit) the loads in flight are what sets the bandwidth.
template <class Totals>
__global__ void __launch_bounds__(block_threads, 4)
    add_rows_per_unit(Totals totals, index_t rows, index_t segment_length, index_t units, index_t elements,
                      index_list ids, index_t id_space, double* __restrict__ partials,
                      unsigned long long* __restrict__ keys) {
  constexpr int width = Totals::units_per_thread;
  constexpr index_t tile_units = column_tile_units * width;
  // A group's registers grow with its width; the bytes in flight per thread still do.
  constexpr int in_flight = width == 1 ? rows_in_flight : rows_in_flight / 2;
  struct tag;
  column_tile_scratch<width>& scratch = static_shared<column_tile_scratch<width>, tag>();
  const index_t thread = static_cast<index_t>(threadIdx.x);
  const index_t column = thread % column_tile_units;
  const index_t lane = thread / column_tile_units;
  const index_t tiles = (units + tile_units - 1) / tile_units;
  const index_t segments = (rows + segment_length - 1) / segment_length;
  for (const index_t item : grid_blocks_range(tiles * segments)) {
    const index_t segment = item / tiles;
    const index_t first_unit = (item % tiles) * tile_units;
    // With width > 1 the caller makes units a multiple of width: a group is in or out whole.
    const index_t u = first_unit + column * width;
    const index_t first = segment * segment_length;
    const index_t last = first + segment_length < rows ? first + segment_length : rows;
    double sum[width];
    std::uint64_t key[width];
#pragma unroll
    for (int k = 0; k < width; ++k) {
      sum[k] = 0.0;
      key[k] = detail::empty_max_key;
    }
    // A product, not a double division (about a dozen fp64 instructions on a GPU) per
    // element, where the count is a power of two, always so in the direct read (1): the same
    // quotient (formulas.hpp).
    const detail::mu_from_totals to_mu(elements);
    bool negative = false;
    std::uint64_t next_id = thread < staged_rows && first + thread < last ? ids.get(first + thread, negative) : 0;
    for (index_t stage = first; stage < last; stage += staged_rows) {
      const index_t count = last - stage < staged_rows ? last - stage : staged_rows;
      __syncthreads();  // every lane is done with the last stage's ids
      if (thread < count) {
        scratch.row_ids[thread] = !negative && next_id < static_cast<std::uint64_t>(id_space) ? next_id : skipped_row;
      }
      __syncthreads();  // the stage's ids written
      if (thread < staged_rows && stage + staged_rows + thread < last) {
        next_id = ids.get(stage + staged_rows + thread, negative);
      }
      if (u >= units) continue;
      constexpr index_t step = column_tile_lanes;
      for (index_t group = lane; group < count; group += in_flight * step) {
        typename Totals::fetched fetched[in_flight] = {};
#pragma unroll
        for (int q = 0; q < in_flight; ++q) {
          const index_t b = group + q * step;
          if (b < count) fetched[q] = totals.fetch(stage + b, u);
        }
#pragma unroll
        for (int q = 0; q < in_flight; ++q) {
          const index_t b = group + q * step;
          if (b >= count || scratch.row_ids[b] == skipped_row) continue;
          const auto id = static_cast<std::int64_t>(scratch.row_ids[b]);
#pragma unroll
          for (int k = 0; k < width; ++k) {
            const float mu = to_mu(totals.total(fetched[q], k));
            sum[k] += static_cast<double>(mu);
            const std::uint64_t candidate = detail::pack_max_key(mu, id);
            if (candidate > key[k]) key[k] = candidate;
          }
        }
      }
    }
#pragma unroll
    for (int k = 0; k < width; ++k) {
      scratch.sums[lane][column * width + k] = sum[k];
      scratch.keys[lane][column * width + k] = key[k];
    }
    __syncthreads();  // every lane's sums written
    for (index_t c = thread; c < tile_units; c += block_threads) {
      const index_t unit = first_unit + c;
      if (unit >= units) continue;
      double slot = partials[segment * units + unit];
      std::uint64_t best = detail::empty_max_key;
      for (index_t l = 0; l < column_tile_lanes; ++l) {
        slot += scratch.sums[l][c];
        if (scratch.keys[l][c] > best) best = scratch.keys[l][c];
      }
      partials[segment * units + unit] = slot;
      if (best != detail::empty_max_key) atomicMax(keys + unit, static_cast<unsigned long long>(best));
    }
    __syncthreads();  // the scratch is rewritten by the block's next item
  }
}

// per_unit storage, once per update: the segment slots of each unit added into sums[u] in a
// fixed order (lane l adds slots l, l + lanes, ... in turn; then the lanes' sums in lane order),
// and the slots zeroed for the next update. Tiles of 8 units read by 32 lanes each: with
// 32-unit tiles of 8 lanes, 64 units and 1 024 slots were two blocks reading 128 slots a
// lane, 16 µs on the H200.
inline constexpr index_t partial_tile_units = 8;
inline constexpr index_t partial_lanes = block_threads / partial_tile_units;

template <int = 0>
__global__ void add_partials(double* __restrict__ partials, index_t slots, index_t units, double* __restrict__ sums) {
  struct tag;
  struct lane_sums {
    double sums[partial_lanes][partial_tile_units];
  };
  lane_sums& scratch = static_shared<lane_sums, tag>();
  const index_t column = static_cast<index_t>(threadIdx.x) % partial_tile_units;
  const index_t lane = static_cast<index_t>(threadIdx.x) / partial_tile_units;
  const index_t tiles = (units + partial_tile_units - 1) / partial_tile_units;
  for (const index_t tile : grid_blocks_range(tiles)) {
    const index_t u = tile * partial_tile_units + column;
    double sum = 0.0;
    if (u < units) {
      // rows_in_flight slots loaded before any is added, so a lane's loads overlap.
      constexpr index_t step = partial_lanes;
      for (index_t group = lane; group < slots; group += rows_in_flight * step) {
        double slot_sums[rows_in_flight];
#pragma unroll
        for (int q = 0; q < rows_in_flight; ++q) {
          const index_t slot = group + q * step;
          slot_sums[q] = slot < slots ? partials[slot * units + u] : 0.0;
        }
#pragma unroll
        for (int q = 0; q < rows_in_flight; ++q) {
          const index_t slot = group + q * step;
          if (slot >= slots) break;
          sum += slot_sums[q];
          partials[slot * units + u] = 0.0;
        }
      }
    }
    scratch.sums[lane][column] = sum;
    __syncthreads();  // every lane's sum written
    if (lane == 0 && u < units) {
      double total = sums[u];
      for (index_t l = 0; l < partial_lanes; ++l) total += scratch.sums[l][column];
      sums[u] = total;
    }
    __syncthreads();  // the scratch is rewritten by the block's next tile
  }
}

// per_sample storage and ClassMem with many classes add each chunk row into a state row
// chosen by a key (the sample id, or the label), and keys may repeat within a chunk (views of
// one sample in several rows, many samples of a class). To spread the work over rows and
// units and still add every state cell's rows in row order, the rows are grouped by key
// first: group_keys writes (key, row) pairs, a stable radix sort orders them by key with rows
// in increasing order within a key, and add_grouped_rows gives one thread to each
// (group, unit). A row that is not accepted (an id outside the id space, or a label outside
// the classes) gets the key `key_limit`, sorted last and skipped. Row numbers are int32: a
// chunk holds at most totals_budget (2^20) rows.
template <int = 0>
__global__ void group_keys(index_list ids, index_list labels, index_t rows, index_t id_space, index_t classes,
                          std::uint64_t* __restrict__ keys, std::int32_t* __restrict__ row_numbers) {
  for (const index_t b : grid_stride_range(rows)) {
    std::uint64_t key = 0;
    if (labels.present()) {
      key = row_accepted(ids, labels, b, id_space, classes) ? static_cast<std::uint64_t>(labels(b))
                                                            : static_cast<std::uint64_t>(classes);
    } else {
      key = ids.in_range(b, id_space) ? static_cast<std::uint64_t>(ids(b)) : static_cast<std::uint64_t>(id_space);
    }
    keys[b] = key;
    row_numbers[b] = static_cast<std::int32_t>(b);
  }
}

// Thread (p, u) of the sorted positions and units: the first position of each accepted group
// adds its rows' values of unit u to sums[key * units + u], one after another in row order,
// as a sequential loop over the chunk would. Neighbouring threads take neighbouring units of
// one row, so the reads of totals and the state are contiguous. `elements` > 0 adds each
// row's μ (ClassMem), `elements` == 0 its activation total (per_sample storage).
template <int = 0>
__global__ void add_grouped_rows(const double* __restrict__ totals, index_t rows, index_t units, index_t elements,
                                 const std::uint64_t* __restrict__ sorted_keys,
                                 const std::int32_t* __restrict__ sorted_rows, std::uint64_t key_limit,
                                 double* __restrict__ sums) {
  for (const index_t i : grid_stride_range(rows * units)) {
    const index_t p = i / units;
    const index_t u = i % units;
    const std::uint64_t key = sorted_keys[p];
    if (key >= key_limit || (p > 0 && sorted_keys[p - 1] == key)) continue;
    double* const cell = sums + static_cast<index_t>(key) * units + u;
    double sum = *cell;
    for (index_t q = p; q < rows && sorted_keys[q] == key; ++q) {
      const double total = totals[static_cast<index_t>(sorted_rows[q]) * units + u];
      sum += elements > 0 ? static_cast<double>(detail::mu_from_total(total, elements)) : total;
    }
    *cell = sum;
  }
}

// ClassMem with few classes, first pass: rows cut into segments as for per_unit storage;
// thread (u, segment) keeps its unit's class sums in its own column of shared memory
// (indexed by label, which registers cannot be), then writes them to
// partials[(segment * classes + c) * units + u]. No thread reads another's column, so no
// barrier is needed.
template <int = 0>
__global__ void add_rows_per_class_privately(const double* __restrict__ totals, index_t rows, index_t units,
                                             index_t elements, index_list ids, index_list labels,
                                             index_t id_space, index_t classes, index_t segments,
                                             double* __restrict__ partials) {
  double* const column_sums = dynamic_shared<double>();  // [classes][blockDim.x]
  const index_t u = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (u >= units) return;
  double* mine = column_sums + threadIdx.x;
  for (index_t c = 0; c < classes; ++c) mine[c * blockDim.x] = 0.0;
  const index_t segment = blockIdx.y;
  const index_t length = (rows + segments - 1) / segments;
  const index_t first = segment * length;
  const index_t last = first + length < rows ? first + length : rows;
  for (index_t b = first; b < last; ++b) {
    if (!row_accepted(ids, labels, b, id_space, classes)) continue;
    const float mu = detail::mu_from_total(totals[b * units + u], elements);
    mine[labels(b) * blockDim.x] += static_cast<double>(mu);
  }
  for (index_t c = 0; c < classes; ++c) partials[(segment * classes + c) * units + u] = mine[c * blockDim.x];
}

// Second pass: each (class, unit) adds its segments' partial sums in segment order.
template <int = 0>
__global__ void add_class_partials(const double* __restrict__ partials, index_t segments, index_t classes,
                                   index_t units, double* __restrict__ class_sums) {
  const index_t cells = classes * units;
  for (const index_t i : grid_stride_range(cells)) {
    double sum = class_sums[i];
    for (index_t segment = 0; segment < segments; ++segment) sum += partials[segment * cells + i];
    class_sums[i] = sum;
  }
}

using detail::unit_outputs;

// Writes one unit's results; counters[0] counts NaN units, counters[1] NaN units with a
// negative denominator.
__device__ inline void write_unit(const unit_outputs& out, index_t u, double top, std::int64_t top_id, double rest,
                                  unsigned long long* counters) {
  const detail::selectivity s = detail::write_unit(out, u, top, top_id, rest);
  if (s.value != s.value) atomicAdd(counters, 1ull);
  if (s.negative_denominator) atomicAdd(counters + 1, 1ull);
}

template <int = 0>
__global__ void finalize_per_unit(const double* __restrict__ sums, const std::uint64_t* __restrict__ keys,
                                         index_t units, index_t samples, unit_outputs out,
                                         unsigned long long* counters) {
  for (const index_t u : grid_stride_range(units)) {
    const double top = detail::key_value(keys[u]);
    write_unit(out, u, top, detail::key_id(keys[u]), detail::mean_of_others(sums[u], top, samples), counters);
  }
}

// per_sample storage, first pass of finalize: the id space is cut into `segments`; thread
// (u, segment) adds the μ of its folded ids in id order into partials[segment * units + u]
// and merges their packed maximum into keys[u] (zeroed by the caller).
template <int = 0>
__global__ void column_partials(const double* __restrict__ sums, const std::int64_t* __restrict__ views,
                                index_t id_space, index_t units, index_t elements, index_t segments,
                                double* __restrict__ partials, unsigned long long* __restrict__ keys) {
  const index_t length = (id_space + segments - 1) / segments;
  const index_t first = static_cast<index_t>(blockIdx.y) * length;
  const index_t last = first + length < id_space ? first + length : id_space;
  for (const index_t u : grid_stride_range(units)) {
    double sum = 0.0;
    std::uint64_t key = detail::empty_max_key;
    for (index_t id = first; id < last; ++id) {
      if (views[id] == 0) continue;
      const float mu = detail::mu_from_total(sums[id * units + u], elements);
      sum += static_cast<double>(mu);
      const std::uint64_t candidate = detail::pack_max_key(mu, id);
      if (candidate > key) key = candidate;
    }
    partials[static_cast<index_t>(blockIdx.y) * units + u] = sum;
    if (key != detail::empty_max_key) atomicMax(keys + u, static_cast<unsigned long long>(key));
  }
}

// per_sample storage, mean of the others: the partial sums in segment order.
template <int = 0>
__global__ void finalize_per_sample_mean(const double* __restrict__ partials, index_t segments,
                                         const unsigned long long* __restrict__ keys, index_t units, index_t samples,
                                         unit_outputs out, unsigned long long* counters) {
  for (const index_t u : grid_stride_range(units)) {
    double sum = 0.0;
    for (index_t segment = 0; segment < segments; ++segment) sum += partials[segment * units + u];
    const double top = detail::key_value(keys[u]);
    write_unit(out, u, top, detail::key_id(keys[u]), detail::mean_of_others(sum, top, samples), counters);
  }
}

// per_sample median finalize: the median of the others per unit, by a most-significant-digit
// radix selection on selection_bits (four passes of 8 bits, each counting the candidates that
// share the digits chosen so far; no copy and no sort of a column). A column spans the whole
// id space, so each pass is spread over blocks of (id segment, tile of median_tile_units
// units), thousands at the B shapes rather than one block per tile walking every id (the
// first GPU run measured that under 1 % of the read roofline): median_count_digits counts a
// block's candidates into shared histograms and adds them to per-unit histograms in global
// memory with integer atomics, exact in any order, then median_pick_digits picks each unit's
// digit. The maximum comes from the packed keys of column_partials (first id on ties, a NaN
// wins, and then the median is NaN too, so the selection never meets a NaN). For an even
// count the lower middle value takes at most one more pass: it equals the upper one when the
// upper's bucket holds a value of lower rank, and is otherwise the largest value below the
// upper one. Selection is exact, so the result depends neither on the tiling nor on the
// segments.
//
// Within a block lane l of every row handles unit first + l and row r reads the segment's
// ids r, r + median_tile_rows, ..., so a warp reads two ids' tiles, each a contiguous 128
// bytes of the [ids, units] state.
inline constexpr int median_tile_units = 16;
inline constexpr int median_tile_rows = block_threads / median_tile_units;
inline constexpr index_t median_segment_ids = 512;
inline constexpr int median_batch_ids = 4;  // ids of a thread whose loads are in flight at once
inline constexpr int median_digit_bits = 8;
inline constexpr int median_digits = 1 << median_digit_bits;
inline constexpr int median_first_shift = 32 - median_digit_bits;

MEMLOC_HD inline index_t median_tiles(index_t units) { return (units + median_tile_units - 1) / median_tile_units; }

// Blocks' items of a counting pass: every (id segment, unit tile).
MEMLOC_HD inline index_t median_items(index_t id_space, index_t units) {
  return (id_space + median_segment_ids - 1) / median_segment_ids * median_tiles(units);
}

// A unit's selection so far, kept in global memory between the passes. The per-unit
// histograms lie beside it as [digit][unit], so that the lanes of a tile add to neighbouring
// counters.
struct median_selection {
  unsigned long long rank;   // rank left within the chosen bucket
  std::uint32_t prefix;      // selection bits chosen so far
  std::uint32_t lower_bits;  // even count: largest bits below the upper middle
};

// What the counting passes read: the state, the views folded per id, the maxima's keys.
struct median_columns {
  using element_type = const void;  // read only, as index_list
  const double* sums;
  const std::int64_t* views;
  const unsigned long long* keys;
  index_t id_space, units, elements;
};

// One (id segment, unit tile) item of a counting pass, as this thread sees it.
struct median_item {
  index_t first_unit, u;
  index_t first_id, last_id;
  std::int64_t top_id;
  bool selecting;  // u is a unit, and its maximum is not NaN

  // f(bits) for each of this thread's candidates of unit u, in no particular order: its rows'
  // folded ids other than the maximum's. The loads of median_batch_ids ids are issued before
  // any is tested, so that they wait together instead of one after another behind a branch.
  template <class F>
  __device__ void for_each_candidate(const median_columns& c, F&& f) const {
    const auto row = static_cast<index_t>(threadIdx.x) / median_tile_units;
    for (index_t id = first_id + row; id < last_id; id += median_batch_ids * median_tile_rows) {
      double totals[median_batch_ids];
      bool folded[median_batch_ids];
#pragma unroll
      for (int k = 0; k < median_batch_ids; ++k) {
        // Past the segment's end the loads read its first id, ignored, and stay unconditional.
        const bool in_segment = id + k * median_tile_rows < last_id;
        const index_t i = in_segment ? id + k * median_tile_rows : first_id;
        totals[k] = c.sums[i * c.units + u];
        folded[k] = c.views[i] != 0 && in_segment && i != top_id;
      }
#pragma unroll
      for (int k = 0; k < median_batch_ids; ++k) {
        if (folded[k]) f(detail::selection_bits(detail::mu_from_total(totals[k], c.elements)));
      }
    }
  }
};

// Neighbouring blocks take neighbouring tiles of one segment, so that together they read
// whole id rows.
__device__ inline median_item median_item_at(const median_columns& c, index_t item) {
  const index_t tiles = median_tiles(c.units);
  median_item it{};
  it.first_unit = item % tiles * median_tile_units;
  it.u = it.first_unit + static_cast<index_t>(threadIdx.x) % median_tile_units;
  it.first_id = item / tiles * median_segment_ids;
  it.last_id = it.first_id + median_segment_ids < c.id_space ? it.first_id + median_segment_ids : c.id_space;
  const std::uint64_t key = it.u < c.units ? c.keys[it.u] : detail::empty_max_key;
  const float top = detail::key_value(key);
  it.top_id = detail::key_id(key);
  it.selecting = it.u < c.units && top == top;
  return it;
}

// One counting pass: the candidates whose bits above `shift` + 8 equal the unit's prefix, by
// their digit at `shift`, added to histograms[digit * units + u]. Only the nonzero bins are
// added: after the first pass most candidates fall outside the prefix.
template <int = 0>
__global__ void __launch_bounds__(block_threads)
    median_count_digits(median_columns columns, const median_selection* __restrict__ selection, int shift,
                        unsigned long long* __restrict__ histograms) {
  struct tag;
  // [digit][lane], so that the lanes of a row count into distinct banks.
  auto& bins = static_shared<std::uint32_t[median_digits][median_tile_units], tag>();
  const int lane = static_cast<int>(threadIdx.x) % median_tile_units;
  const std::uint32_t mask = shift == median_first_shift ? 0u : ~0u << (shift + median_digit_bits);
  for (const index_t item : grid_blocks_range(median_items(columns.id_space, columns.units))) {
    const median_item it = median_item_at(columns, item);
    for (const index_t d : block_stride_range(median_digits * median_tile_units)) {
      bins[d / median_tile_units][d % median_tile_units] = 0;
    }
    __syncthreads();  // bins zeroed
    if (it.selecting) {
      // The first pass has no prefix yet; median_pick_digits sets the selection up after it.
      const std::uint32_t prefix = shift == median_first_shift ? 0u : selection[it.u].prefix;
      it.for_each_candidate(columns, [&](std::uint32_t bits) {
        if ((bits & mask) == prefix) atomicAdd(&bins[(bits >> shift) & (median_digits - 1u)][lane], 1u);
      });
    }
    __syncthreads();  // counts complete
    for (const index_t d : block_stride_range(median_digits * median_tile_units)) {
      const std::uint32_t count = bins[d / median_tile_units][d % median_tile_units];
      if (count != 0) {
        atomicAdd(histograms + d / median_tile_units * columns.units + it.first_unit + d % median_tile_units,
                  static_cast<unsigned long long>(count));
      }
    }
    __syncthreads();  // the bins are zeroed for the block's next item
  }
}

// After each counting pass, a block per unit tile: the tile's histograms into shared memory
// (zeroing them for the next pass), then each unit's digit holding its rank appended to its
// prefix. The first pass sets each unit's selection up, at rank `middle_rank`.
template <int = 0>
__global__ void __launch_bounds__(block_threads)
    median_pick_digits(unsigned long long* __restrict__ histograms, const unsigned long long* __restrict__ keys,
                       index_t units, unsigned long long middle_rank, int shift,
                       median_selection* __restrict__ selection) {
  struct tag;
  auto& counts = static_shared<unsigned long long[median_digits][median_tile_units], tag>();
  for (const index_t tile : grid_blocks_range(median_tiles(units))) {
    const index_t first_unit = tile * median_tile_units;
    for (const index_t d : block_stride_range(median_digits * median_tile_units)) {
      const index_t u = first_unit + d % median_tile_units;
      unsigned long long count = 0;
      if (u < units) {
        unsigned long long& bin = histograms[d / median_tile_units * units + u];
        count = bin;
        bin = 0;
      }
      counts[d / median_tile_units][d % median_tile_units] = count;
    }
    __syncthreads();  // the tile's counts loaded
    const int lane = static_cast<int>(threadIdx.x);
    const index_t u = first_unit + lane;
    if (lane < median_tile_units && u < units) {
      median_selection s = shift == median_first_shift ? median_selection{middle_rank, 0u, 0u} : selection[u];
      const float top = detail::key_value(keys[u]);
      if (top == top) {
        const std::uint32_t digit = detail::digit_holding_rank([&](std::uint32_t d) { return counts[d][lane]; },
                                                               static_cast<std::uint32_t>(median_digits), s.rank);
        s.prefix |= digit << shift;
      }
      selection[u] = s;
    }
    __syncthreads();  // the counts are rewritten for the block's next tile
  }
}

// Even count, once the upper middle is selected, for the units whose upper middle has no
// value of lower rank in its bucket: the largest candidate below it, merged with atomicMax
// (exact, so in any order) over the block's rows and then over the segments.
template <int = 0>
__global__ void __launch_bounds__(block_threads)
    median_lower_middle(median_columns columns, median_selection* __restrict__ selection) {
  struct tag;
  auto& largest = static_shared<std::uint32_t[median_tile_units], tag>();
  const int lane = static_cast<int>(threadIdx.x) % median_tile_units;
  for (const index_t item : grid_blocks_range(median_items(columns.id_space, columns.units))) {
    const median_item it = median_item_at(columns, item);
    if (threadIdx.x < median_tile_units) largest[lane] = 0;
    __syncthreads();  // largest zeroed
    if (it.selecting && selection[it.u].rank == 0) {
      const std::uint32_t upper_bits = selection[it.u].prefix;
      std::uint32_t mine = 0;
      it.for_each_candidate(columns, [&](std::uint32_t bits) {
        if (bits < upper_bits && bits > mine) mine = bits;
      });
      if (mine != 0) atomicMax(&largest[lane], mine);
    }
    __syncthreads();  // every row merged
    if (threadIdx.x < median_tile_units && largest[lane] != 0) atomicMax(&selection[it.u].lower_bits, largest[lane]);
    __syncthreads();  // largest is zeroed for the block's next item
  }
}

// The outputs, from each unit's selection.
template <int = 0>
__global__ void finalize_per_sample_median(const unsigned long long* __restrict__ keys,
                                           const median_selection* __restrict__ selection, index_t units,
                                           bool two_middles, unit_outputs out, unsigned long long* counters) {
  for (const index_t u : grid_stride_range(units)) {
    const float top = detail::key_value(keys[u]);
    double rest = static_cast<double>(NAN);
    if (top == top) {
      const median_selection s = selection[u];
      const double upper = detail::value_from_order_preserving_bits(s.prefix);
      rest = upper;
      if (two_middles) {
        const double lower = s.rank > 0 ? upper : detail::value_from_order_preserving_bits(s.lower_bits);
        rest = detail::middle_mean(lower, upper);
      }
    }
    write_unit(out, u, top, detail::key_id(keys[u]), rest, counters);
  }
}

// ClassMem finalize: one thread per unit over the classes.
template <int = 0>
__global__ void finalize_classes(const double* __restrict__ class_sums, const long long* __restrict__ class_counts,
                                        index_t classes, index_t units, index_t present, unit_outputs out,
                                        unsigned long long* counters) {
  for (const index_t u : grid_stride_range(units)) {
    const detail::class_top_and_rest r = detail::class_means_top_and_rest(
        classes, present, [&](std::int64_t c) { return class_sums[c * units + u]; },
        [&](std::int64_t c) { return static_cast<std::int64_t>(class_counts[c]); });
    write_unit(out, u, r.top, r.top_class, r.rest, counters);
  }
}

}  // namespace memloc::kernels
