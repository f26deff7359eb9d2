#pragma once

// Which sample ids an accumulator has folded: one bit per id plus a fold count. Bits merge
// by OR and counts by SUM, so after an all-reduce across ranks a sample folded on two ranks
// shows up as count > popcount, which finalize reports instead of double-counting it.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../view.hpp"
#include "validate.hpp"

namespace memloc::detail {

class sample_set {
 public:
  sample_set() = default;
  explicit sample_set(index_t id_space)
      : words_(static_cast<std::size_t>((id_space + 63) / 64), 0), folded_(1, 0) {}

  bool contains(index_t id) const noexcept {
    return (words_[static_cast<std::size_t>(id >> 6)] >> (id & 63)) & 1u;
  }

  // Throws, changing nothing, if an id is already present or appears twice in `ids`.
  template <class Space>
  void check_new(const char* function, const vector_view<const std::int64_t, Space>& ids) const {
    std::vector<std::int64_t> sorted(static_cast<std::size_t>(ids.extent(0)));
    for (index_t i = 0; i < ids.extent(0); ++i) {
      if (contains(ids(i))) fail(function, "sample_ids(", i, ") = ", ids(i), " was already folded; each sample must be folded once");
      sorted[static_cast<std::size_t>(i)] = ids(i);
    }
    std::sort(sorted.begin(), sorted.end());
    const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
    if (dup != sorted.end()) fail(function, "sample_ids must be distinct within a batch, got ", *dup, " twice");
  }

  template <class Space>
  void insert(const vector_view<const std::int64_t, Space>& ids) noexcept {
    for (index_t i = 0; i < ids.extent(0); ++i) {
      const index_t id = ids(i);
      words_[static_cast<std::size_t>(id >> 6)] |= std::uint64_t{1} << (id & 63);
    }
    folded_[0] += ids.extent(0);
  }

  // Throws, changing nothing, if the two sets share an id.
  void check_disjoint(const char* function, const sample_set& other) const {
    for (std::size_t w = 0; w < words_.size(); ++w) {
      const std::uint64_t both = words_[w] & other.words_[w];
      if (both != 0) {
        const auto id = static_cast<index_t>(w * 64 + static_cast<std::size_t>(__builtin_ctzll(both)));
        fail(function, "other must hold samples this accumulator has not folded, got sample id ", id, " in both");
      }
    }
  }

  void merge(const sample_set& other) noexcept {
    for (std::size_t w = 0; w < words_.size(); ++w) words_[w] |= other.words_[w];
    folded_[0] += other.folded_[0];
  }

  // The number of distinct samples, after checking that no sample was folded twice across
  // states merged element-wise outside memloc (an all-reduce).
  index_t distinct(const char* function) const {
    index_t bits = 0;
    for (const std::uint64_t w : words_) bits += __builtin_popcountll(w);
    if (bits != folded_[0]) {
      fail(function, "each sample must be folded once across merged states: folds counted ", folded_[0],
           ", distinct sample ids ", bits);
    }
    return bits;
  }

  index_t folded() const noexcept { return folded_[0]; }

  void reset() noexcept {
    std::fill(words_.begin(), words_.end(), 0);
    folded_[0] = 0;
  }

  std::uint64_t* words() noexcept { return words_.data(); }
  std::size_t word_count() const noexcept { return words_.size(); }
  std::int64_t* folded_counter() noexcept { return folded_.data(); }

 private:
  std::vector<std::uint64_t> words_;
  std::vector<std::int64_t> folded_;  // one element, kept in a buffer so it can be all-reduced
};

}  // namespace memloc::detail
