#pragma once

// Pieces every device accumulator shares: the status record of deferred input problems and
// the update count that orders them, the per-id count summary, the NaN counters, state
// merges, and the batch chunking of the μ fold.

#include <cstddef>
#include <cstdint>

#include "memloc/detail/cuda/launch.cuh"
#include "memloc/detail/cuda/runtime.cuh"
#include "memloc/detail/validate.hpp"
#include "memloc/kernels/common.cuh"
#include "memloc/kernels/index_list.cuh"
#include "memloc/kernels/registration.cuh"
#include "memloc/kernels/state_merge.cuh"

namespace memloc::detail::cuda {

// Scratch for one chunk of μ totals: at most this many doubles, so a batch of any size
// folds with memory fixed when the accumulator is built.
inline constexpr index_t totals_budget = index_t{1} << 20;

inline index_t chunk_rows_for(index_t units, index_t most_rows) {
  index_t rows = totals_budget / units;
  if (rows > most_rows) rows = most_rows;
  return rows < 1 ? 1 : rows;
}

class device_bookkeeping {
 public:
  explicit device_bookkeeping(const char* function) : records_(1, function), counters_(2, function) {}

  status_record* status() const noexcept {
    return reinterpret_cast<status_record*>(reinterpret_cast<char*>(records_.data()) + offsetof(records, status));
  }
  // The number of the update call now starting; refuses one past detail::max_keyed_batch.
  long long next_batch(const char* function) {
    batches_ = next_batch_number(function, batches_);
    return batches_;
  }

  void reset(cudaStream_t stream, const char* function) {
    records_.zero(stream, function);
    batches_ = 0;
  }

  // Raises the first input problem a kernel recorded since construction or reset.
  void raise_recorded(cudaStream_t stream, const char* function, const char* updating) const {
    status_record record{};
    copy_to_host(&record, status(), sizeof record, stream, function);
    if (record.problem != 0) throw logic_error(describe(record, updating));
  }

  // Raises the first recorded input problem, as raise_recorded does, and returns the summary
  // of per-id counts (and, for a merge, of their sum with another state's): one wait for the
  // device, not two, since each costs a finalize about as much as a small kernel.
  template <class Count>
  kernels::count_summary summarize(const Count* counts, const Count* other, index_t id_space, Count limit,
                                   Count expected, cudaStream_t stream, const char* function,
                                   const char* updating) const {
    launch(function, "the count summary kernel", kernels::start_summary<>, 1, 1, 0, stream, summary(), id_space);
    launch(function, "the count summary kernel", kernels::summarize_counts<Count>, kernels::grid_for(id_space),
           kernels::block_threads, 0, stream, counts, other, id_space, limit, expected, summary());
    records both{};
    copy_to_host(&both, records_.data(), sizeof both, stream, function);
    if (both.status.problem != 0) throw logic_error(describe(both.status, updating));
    return both.summary;
  }

  // Before a merge of states with one fold count per id: neither may hold a recorded input
  // problem, and no id may be folded in both.
  void check_mergeable_folds(const device_bookkeeping& other, const std::int32_t* folds, const std::int32_t* other_folds,
                             index_t id_space, cudaStream_t stream, const char* function, const char* updating) const {
    raise_recorded(stream, function, updating);  // this state's problem before the other's
    other.raise_recorded(stream, function, updating);
    const auto s = summarize<std::int32_t>(folds, other_folds, id_space, 1, 1, stream, function, updating);
    if (s.first_shared < id_space) {
      fail(function, "other must hold samples this accumulator has not folded, got sample id ", s.first_shared, " in both");
    }
  }

  unsigned long long* counters() const noexcept { return counters_.data(); }

  void zero_counters(cudaStream_t stream, const char* function) { counters_.zero(stream, function); }

  // {NaN units, NaN units with a negative denominator}, waiting for the stream.
  void read_counters(unsigned long long (&values)[2], cudaStream_t stream, const char* function) const {
    copy_to_host(values, counters_.data(), sizeof values, stream, function);
  }

 private:
  // Side by side, so that summarize reads both in one copy.
  struct records {
    status_record status;
    kernels::count_summary summary;
  };

  kernels::count_summary* summary() const noexcept {
    return reinterpret_cast<kernels::count_summary*>(reinterpret_cast<char*>(records_.data()) +
                                                     offsetof(records, summary));
  }

  device_array<records> records_;
  device_array<unsigned long long> counters_;
  long long batches_ = 0;
};

template <class T>
T read_element(const T* device, index_t i, cudaStream_t stream, const char* function) {
  T value{};
  copy_to_host(&value, device + i, sizeof value, stream, function);
  return value;
}

template <class I, class Space>
kernels::index_list index_list_of(const vector_view<I, Space>& v, index_t first = 0) {
  return kernels::index_list::of(v.data_handle() ? v.data_handle() + first * v.stride(0) : nullptr, v.stride(0));
}

// Checks a batch's ids (and labels) on the device and counts them: counts[id] += increment,
// class_counts[label] += 1. The first bad row, in the host's order, goes to the status record.
template <class Count>
void register_batch(cudaStream_t stream, kernels::index_list ids, kernels::index_list labels, index_t rows,
                    index_t id_space, index_t classes, long long batch, Count* counts, Count increment,
                    long long* class_counts, status_record* status, const char* function) {
  launch(function, "the sample registration kernel", kernels::register_rows<Count>, kernels::grid_for(rows),
         kernels::block_threads, 0, stream, ids, labels, rows, id_space, classes, batch, counts, increment,
         class_counts, status);
  launch(function, "the bad row report kernel", kernels::describe_bad_row<>, 1, 1, 0, stream, ids, labels, id_space,
         classes, batch, status);
}

// The ids, without labels.
inline kernels::index_list no_labels() { return kernels::index_list::of<std::int32_t>(nullptr, 0); }

// Element-wise merge of one state buffer: mine[i] += theirs[i].
template <class T>
void add_state(const device_array<T>& mine, const device_array<T>& theirs, cudaStream_t stream, const char* function) {
  launch(function, "the merge kernel", kernels::add_into<T>, kernels::grid_for(mine.size()), kernels::block_threads, 0,
         stream, mine.data(), theirs.data(), mine.size());
}

// Ids 0 .. n-1 on the device: the one-shot functions name samples by their row.
inline device_array<std::int64_t> sequential_ids(index_t n, cudaStream_t stream, const char* function) {
  device_array<std::int64_t> ids(n, function);
  launch(function, "the id sequence kernel", kernels::fill_sequence<>, kernels::grid_for(n), kernels::block_threads, 0,
         stream, ids.data(), n);
  return ids;
}

}  // namespace memloc::detail::cuda
