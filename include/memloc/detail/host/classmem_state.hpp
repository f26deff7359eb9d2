#pragma once

// State and arithmetic of the host ClassMem accumulator. Arguments arrive validated.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../../exec.hpp"
#include "../../options.hpp"
#include "../../state.hpp"
#include "../../view.hpp"
#include "../formulas.hpp"
#include "../sample_set.hpp"
#include "fold.hpp"
#include "unit_writer.hpp"

namespace memloc::detail::host {

class classmem_state {
 public:
  classmem_state(index_t samples, index_t units, index_t classes)
      : units_(units), classes_(classes), sums_(static_cast<std::size_t>(classes * units), 0.0),
        counts_(static_cast<std::size_t>(classes), 0), seen_(samples) {}

  template <class T, class Space, class IdView, class LabelView>
  void update(const host_exec& exec, const activations_view<const T, Space>& batch, const IdView& ids,
              const LabelView& labels, activation_transform transform) {
    const index_t samples = batch.extent(0);
    const index_t elements = batch.extent(1) * batch.extent(3);
    totals_.resize(static_cast<std::size_t>(samples * units_));
    fold_totals(exec, batch, transform, totals_.data());
    for (index_t b = 0; b < samples; ++b) {
      const auto label = static_cast<std::int64_t>(labels(b));
      double* row = sums_.data() + label * units_;
      const double* t = totals_.data() + b * units_;
      for (index_t u = 0; u < units_; ++u) row[u] += static_cast<double>(mu_from_total(t[u], elements));
      counts_[static_cast<std::size_t>(label)] += 1;
    }
    seen_.insert(ids);
  }

  void merge(const classmem_state& other) noexcept {
    for (std::size_t i = 0; i < sums_.size(); ++i) sums_[i] += other.sums_[i];
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    seen_.merge(other.seen_);
  }

  index_t classes_with_samples() const noexcept {
    index_t n = 0;
    for (const auto c : counts_) n += c > 0;
    return n;
  }

  // Class means over D'; the top class is the first on ties; the rest is the mean over the
  // other classes that have samples (Eqs. 13-16).
  unit_counts finalize(const unit_outputs& out) const {
    const index_t present = classes_with_samples();
    unit_counts counts;
    for (index_t u = 0; u < units_; ++u) {
      const class_top_and_rest r = class_means_top_and_rest(
          classes_, present, [&](std::int64_t c) { return sums_[static_cast<std::size_t>(c * units_ + u)]; },
          [&](std::int64_t c) { return counts_[static_cast<std::size_t>(c)]; });
      write_unit(out, u, r.top, r.top_class, r.rest, counts);
    }
    return counts;
  }

  void reset() {
    std::fill(sums_.begin(), sums_.end(), 0.0);
    std::fill(counts_.begin(), counts_.end(), 0);
    seen_.reset();
  }

  sample_set& seen() noexcept { return seen_; }
  const sample_set& seen() const noexcept { return seen_; }

  std::vector<state_buffer> buffers() {
    return {{"class_mu_sums", sums_.data(), sums_.size(), state_element::f64, state_reduction::sum},
            {"class_counts", counts_.data(), counts_.size(), state_element::i64, state_reduction::sum},
            {"sample_folds", seen_.counts(), seen_.size(), state_element::i32, state_reduction::sum}};
  }

 private:
  index_t units_;
  index_t classes_;
  std::vector<double> sums_;          // [classes, units]: sums of per-sample μ
  std::vector<std::int64_t> counts_;  // samples per class
  sample_set seen_;
  std::vector<double> totals_;  // per-batch scratch, not state
};

}  // namespace memloc::detail::host
