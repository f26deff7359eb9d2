#pragma once

// How often each sample id has been folded: one int32 count per id, merged by SUM. After
// an all-reduce across ranks, a sample folded on two ranks shows up as a count of 2, which
// finalize reports instead of double-counting it. (SUM, unlike a bitwise OR, is an
// operation every collective library offers, NCCL included.)

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../view.hpp"
#include "validate.hpp"

namespace memloc::detail {

class sample_set {
 public:
  sample_set() = default;
  explicit sample_set(index_t id_space) : counts_(static_cast<std::size_t>(id_space), 0) {}

  bool contains(index_t id) const noexcept { return counts_[static_cast<std::size_t>(id)] != 0; }

  // Throws, changing nothing, if an id is already present or appears twice in `ids`.
  template <class IdView>
  void check_new(const char* function, const IdView& ids) {
    sorted_.resize(static_cast<std::size_t>(ids.extent(0)));
    for (index_t i = 0; i < ids.extent(0); ++i) {
      const auto id = static_cast<std::int64_t>(ids(i));
      if (contains(id)) fail(function, "sample_ids(", i, ") = ", id, " was already folded; each sample must be folded once");
      sorted_[static_cast<std::size_t>(i)] = id;
    }
    std::sort(sorted_.begin(), sorted_.end());
    const auto dup = std::adjacent_find(sorted_.begin(), sorted_.end());
    if (dup != sorted_.end()) fail(function, "sample_ids must be distinct within a batch, got ", *dup, " twice");
  }

  template <class IdView>
  void insert(const IdView& ids) noexcept {
    for (index_t i = 0; i < ids.extent(0); ++i) counts_[static_cast<std::size_t>(ids(i))] += 1;
  }

  // Throws, changing nothing, if the two sets share an id.
  void check_disjoint(const char* function, const sample_set& other) const {
    for (std::size_t id = 0; id < counts_.size(); ++id) {
      if (counts_[id] != 0 && other.counts_[id] != 0) {
        fail(function, "other must hold samples this accumulator has not folded, got sample id ", id, " in both");
      }
    }
  }

  void merge(const sample_set& other) noexcept {
    for (std::size_t id = 0; id < counts_.size(); ++id) counts_[id] += other.counts_[id];
  }

  // The number of distinct samples, after checking that no sample was folded twice across
  // states merged element-wise outside memloc (an all-reduce).
  index_t distinct(const char* function) const {
    index_t n = 0;
    for (std::size_t id = 0; id < counts_.size(); ++id) {
      if (counts_[id] > 1) {
        fail(function, "each sample must be folded once across merged states, got sample id ", id, " folded ",
             counts_[id], " times");
      }
      n += counts_[id];
    }
    return n;
  }

  index_t first_missing() const noexcept {
    const auto it = std::find(counts_.begin(), counts_.end(), 0);
    return static_cast<index_t>(it - counts_.begin());
  }

  void reset() noexcept { std::fill(counts_.begin(), counts_.end(), 0); }

  std::int32_t* counts() noexcept { return counts_.data(); }
  std::size_t size() const noexcept { return counts_.size(); }

 private:
  std::vector<std::int32_t> counts_;
  std::vector<std::int64_t> sorted_;  // scratch for check_new, kept to avoid a per-batch allocation
};

}  // namespace memloc::detail
