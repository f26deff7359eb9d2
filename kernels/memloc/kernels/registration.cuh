#pragma once

// Registration of a batch's rows, shared by every device accumulator: sample ids (and
// labels) are checked on the device and counted per id, and the first bad row in the
// host's order goes to the status record, to be raised by the next call that waits.

#include <cstdint>

#include "memloc/detail/formulas.hpp"
#include "memloc/kernels/common.cuh"
#include "memloc/kernels/index_list.cuh"
#include "memloc/kernels/status.cuh"

namespace memloc::kernels {

// Adds `increment` to counts[id] for each row whose id is in range; records the first row
// whose id or label is not. Labels are optional (not present); with labels,
// class_counts[label] counts the rows of each class.
template <class Count>
__global__ void register_rows(index_list ids, index_list labels, index_t rows, index_t id_space, index_t classes,
                              long long batch, Count* counts, Count increment, long long* class_counts,
                              status_record* status) {
  for (const index_t b : grid_stride_range(rows)) {
    if (!ids.in_range(b, id_space)) {
      note_bad_row(status, batch, false, b);
      continue;
    }
    const index_t id = ids(b);
    if (labels.present()) {
      if (!labels.in_range(b, classes)) {
        note_bad_row(status, batch, true, b);
        continue;
      }
      atomicAdd(reinterpret_cast<unsigned long long*>(class_counts) + labels(b), 1ull);
    }
    if constexpr (sizeof(Count) == 8) {
      atomicAdd(reinterpret_cast<unsigned long long*>(counts) + id, static_cast<unsigned long long>(increment));
    } else {
      atomicAdd(counts + id, increment);
    }
  }
}

// Turns the first bad row of this batch, if it is the first of all, into the status record,
// reading its id or label while the batch is still alive. One thread.
template <int = 0>
__global__ void describe_bad_row(index_list ids, index_list labels, index_t id_space, index_t classes, long long batch,
                                 status_record* status) {
  const unsigned long long complement = status->first_bad_row_complement;
  if (status->problem != 0 || complement == 0) return;
  const unsigned long long key = ~complement;
  if (detail::bad_row_batch(key) != batch) return;
  const bool is_label = detail::bad_row_is_label(key);
  const index_t row = detail::bad_row_row(key);
  const index_list& list = is_label ? labels : ids;
  bool negative = false;
  status->problem = static_cast<int>(is_label ? input_problem::label_out_of_range : input_problem::sample_id_out_of_range);
  status->batch = batch;
  status->position = row;
  status->bound = is_label ? classes : id_space;
  status->value = static_cast<long long>(list.get(row, negative));
  // describe() prints the value unsigned when it came from an unsigned type, as the host does.
  status->argument = list.is_unsigned() ? 1 : 0;
}

// A row takes part in the state only if register_rows accepted it.
__device__ inline bool row_accepted(const index_list& ids, const index_list& labels, index_t b, index_t id_space,
                                    index_t classes) {
  if (!ids.in_range(b, id_space)) return false;
  return !labels.present() || labels.in_range(b, classes);
}

}  // namespace memloc::kernels
