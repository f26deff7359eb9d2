#pragma once

// The status record through which kernels report bad device-resident input. Kernels cannot
// throw and update must not wait for the device, so the first problem is recorded here and
// raised by the next host call that waits for the stream (finalize, merge), naming the
// batch it came from (detail/cuda/runtime.cuh describes it).

#include "memloc/detail/formulas.hpp"

namespace memloc::kernels {

enum class input_problem : int { none = 0, sample_id_out_of_range = 1, label_out_of_range = 2, negative_distance = 3 };

struct status_record {
  int problem;        // an input_problem; the first one recorded wins
  int reserved;
  long long batch;    // the update call (counted from 1 since construction or reset) that held it
  long long position; // index within the batch or input
  long long value;    // the offending value
  long long bound;    // the exclusive upper bound it broke
  int argument;       // which argument, for problems that can come from several (0: ssl_f, 1: ssl_g);
                      // for ids and labels, 1 when `value` holds the bits of an unsigned integer
  int reserved2;
  // The first bad row of an id or label check, as the complement of detail::bad_row_key, so
  // that zeroed memory means none and atomicMax finds the first.
  unsigned long long first_bad_row_complement;
};

// Notes a bad row; the first one in host order wins whatever the scheduling.
__device__ inline void note_bad_row(status_record* status, long long batch, bool is_label, std::int64_t row) {
  atomicMax(&status->first_bad_row_complement, ~detail::bad_row_key(batch, is_label, row));
}

}  // namespace memloc::kernels
