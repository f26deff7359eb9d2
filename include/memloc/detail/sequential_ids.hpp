#pragma once

// Sample ids that name samples by their row, for the one-shot functions and for the memloc
// command, and the one way to fold a batch under such ids without checking them.

#include <cstdint>
#include <vector>

#include "../view.hpp"
#include "formulas.hpp"

namespace memloc::detail {

// Ids 0, 1, ..., n - 1.
inline std::vector<std::int64_t> sequential_ids(index_t n) {
  std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) ids[static_cast<std::size_t>(i)] = row_sample_id(i);
  return ids;
}

// A one-shot function folds all n rows of its input, under sequential_ids(n), into a fresh
// accumulator of n samples: those ids are in range, distinct and new, so the checks update
// makes of a caller's ids (range, repeats, views per sample) cannot fail and are skipped.
// The host accumulators befriend this struct alone, so a caller's ids never take this path.
struct fold_sequential_ids {
  template <class Accumulator, class... Arguments>
  static void update(Accumulator& fresh, const Arguments&... arguments) {
    fresh.update_sequential(arguments...);
  }
};

}  // namespace memloc::detail
