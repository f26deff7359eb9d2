#pragma once

// State and arithmetic of the host UnitMem accumulator. Arguments arrive validated.

#include <cstdint>
#include <vector>

#include "../../exec.hpp"
#include "../../options.hpp"
#include "../../state.hpp"
#include "../../view.hpp"
#include "../formulas.hpp"
#include "../sample_set.hpp"
#include "column_stats.hpp"
#include "fold.hpp"
#include "parallel.hpp"

namespace memloc::detail::host {

struct unit_outputs {
  double* unitmem;
  double* mu_max;
  std::int64_t* argmax;
  double* mu_rest;
};

struct unit_counts {
  index_t nan_units = 0;
  index_t negative_denominator_units = 0;
};

// Writes one unit's results and tallies the policy cases.
inline void write_unit(const unit_outputs& out, index_t u, double top, std::int64_t top_id, double rest,
                       unit_counts& counts) noexcept {
  const selectivity s = selectivity_index(top, rest);
  out.unitmem[u] = s.value;
  if (out.mu_max) out.mu_max[u] = top;
  if (out.argmax) out.argmax[u] = top_id;
  if (out.mu_rest) out.mu_rest[u] = rest;
  counts.negative_denominator_units += s.negative_denominator;
  counts.nan_units += std::isnan(s.value);
}

// Units per parallel task when updating per-unit state: each task adds its units' values
// in sample order, so results do not depend on the thread count.
inline constexpr index_t update_unit_block = 64;

class unitmem_per_unit_state {
 public:
  unitmem_per_unit_state(index_t samples, index_t units)
      : sums_(static_cast<std::size_t>(units), 0.0), keys_(static_cast<std::size_t>(units), empty_max_key),
        seen_(samples) {}

  template <class T, class Space, class IdView>
  void update(const host_exec& exec, const activations_view<const T, Space>& batch, const IdView& ids,
              activation_transform transform) {
    const index_t samples = batch.extent(0), units = batch.extent(2);
    const index_t elements = batch.extent(1) * batch.extent(3);
    totals_.resize(static_cast<std::size_t>(samples * units));
    fold_totals(exec, batch, transform, totals_.data());
    const index_t blocks = (units + update_unit_block - 1) / update_unit_block;
    parallel_for(exec, blocks, [&](index_t k) {
      const index_t first = k * update_unit_block;
      const index_t last = std::min(units, first + update_unit_block);
      // The current maximum of each unit as a float: most values are below it, and one
      // comparison rules them out before a key is packed. NaN compares false and so always
      // takes the exact path, as does everything before a unit's first sample.
      float current[update_unit_block];
      for (index_t u = first; u < last; ++u) current[u - first] = key_value(keys_[static_cast<std::size_t>(u)]);
      for (index_t b = 0; b < samples; ++b) {
        const double* t = totals_.data() + b * units;
        const auto id = static_cast<std::int64_t>(ids(b));
        for (index_t u = first; u < last; ++u) {
          const float mu = mu_from_total(t[u], elements);
          sums_[static_cast<std::size_t>(u)] += static_cast<double>(mu);
          if (!(mu < current[u - first])) {
            const std::uint64_t key = pack_max_key(mu, id);
            if (key > keys_[static_cast<std::size_t>(u)]) {
              keys_[static_cast<std::size_t>(u)] = key;
              current[u - first] = key_value(key);
            }
          }
        }
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

  void reset() noexcept {
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
  std::vector<double> totals_;  // per-batch scratch, not state
};

class unitmem_per_sample_state {
 public:
  unitmem_per_sample_state(index_t samples, index_t units)
      : units_(units), sums_(static_cast<std::size_t>(samples * units), 0.0),
        views_(static_cast<std::size_t>(samples), 0) {}

  std::int64_t views_folded(index_t id) const noexcept { return views_[static_cast<std::size_t>(id)]; }

  template <class T, class Space, class IdView>
  void update(const host_exec& exec, const activations_view<const T, Space>& batch, const IdView& ids,
              activation_transform transform) {
    const index_t samples = batch.extent(0);
    totals_.resize(static_cast<std::size_t>(samples * units_));
    fold_totals(exec, batch, transform, totals_.data());
    // Ids may repeat within a batch here (different views of one sample), so rows are
    // added serially in batch order.
    for (index_t b = 0; b < samples; ++b) {
      const auto id = static_cast<std::int64_t>(ids(b));
      double* row = sums_.data() + id * units_;
      const double* t = totals_.data() + b * units_;
      for (index_t u = 0; u < units_; ++u) row[u] += t[u];
      views_[static_cast<std::size_t>(id)] += batch.extent(1);
    }
  }

  void merge(const unitmem_per_sample_state& other) noexcept {
    for (std::size_t i = 0; i < sums_.size(); ++i) sums_[i] += other.sums_[i];
    for (std::size_t i = 0; i < views_.size(); ++i) views_[i] += other.views_[i];
  }

  unit_counts finalize(const host_exec& exec, index_t views, index_t positions, rest_reduction rest,
                       const unit_outputs& out) const {
    std::vector<std::int64_t> ids;
    for (std::size_t id = 0; id < views_.size(); ++id) {
      if (views_[id] != 0) ids.push_back(static_cast<std::int64_t>(id));
    }
    const auto rows = static_cast<index_t>(ids.size());
    std::vector<float> mu(static_cast<std::size_t>(rows * units_));
    parallel_for(exec, rows, [&](index_t r) {
      const double* sums = sums_.data() + ids[static_cast<std::size_t>(r)] * units_;
      float* row = mu.data() + r * units_;
      for (index_t u = 0; u < units_; ++u) row[u] = mu_from_total(sums[u], views * positions);
    });
    std::vector<unit_column_stats> stats(static_cast<std::size_t>(units_));
    column_stats(exec, mu.data(), rows, units_, rest, stats.data());
    unit_counts counts;
    for (index_t u = 0; u < units_; ++u) {
      const unit_column_stats& s = stats[static_cast<std::size_t>(u)];
      write_unit(out, u, s.top, ids[static_cast<std::size_t>(s.top_row)], s.rest, counts);
    }
    return counts;
  }

  void reset() noexcept {
    std::fill(sums_.begin(), sums_.end(), 0.0);
    std::fill(views_.begin(), views_.end(), 0);
  }

  std::vector<state_buffer> buffers() {
    return {{"sample_sums", sums_.data(), sums_.size(), state_element::f64, state_reduction::sum},
            {"sample_views", views_.data(), views_.size(), state_element::i64, state_reduction::sum}};
  }

 private:
  index_t units_;
  std::vector<double> sums_;         // [samples, units]: activation sums over views and positions
  std::vector<std::int64_t> views_;  // views folded per sample
  std::vector<double> totals_;       // per-batch scratch, not state
};

}  // namespace memloc::detail::host
