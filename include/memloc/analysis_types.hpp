#pragma once

// Types of the analysis functions (memloc/analysis.hpp): how many items a selection takes,
// the enumerations that steer the statistics, their results, and the mergeable sample
// summary a streaming pass feeds into a t-test.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "view.hpp"

namespace memloc {

// A selection size: an exact count, or a fraction p of the n candidates, k = ceil(p * n).
enum class top_k_kind { count, fraction };

struct top_k {
  top_k_kind kind = top_k_kind::count;
  index_t count = 0;      // for top_k_kind::count: k itself, in [1, n]
  double fraction = 0.0;  // for top_k_kind::fraction: p in (0, 1]
};

// Spelled out at the call site, so that a count and a fraction cannot be confused.
constexpr top_k top_count(index_t k) noexcept { return top_k{top_k_kind::count, k, 0.0}; }
constexpr top_k top_fraction(double p) noexcept { return top_k{top_k_kind::fraction, 0, p}; }

// Which end of a ranking comes first: the highest scores (top) or the lowest (least).
enum class rank_direction { top, least };

// The alternative hypothesis of a test, as SciPy's `alternative` argument.
enum class alternative { two_sided, greater, less };

// How Kendall's p-value is computed, as SciPy's `method` argument.
enum class kendall_method {
  automatic,   // exact when neither input has ties and n <= 33 (or at most one pair is discordant or concordant)
  exact,       // the exact null distribution; inputs without ties only
  asymptotic,  // normal approximation with the tie-corrected variance
};

struct kendall_options {
  memloc::alternative alternative = memloc::alternative::two_sided;
  kendall_method method = kendall_method::automatic;
};

struct kendall_result {
  double tau = 0.0;      // τ-b, NaN when an input is constant or holds a NaN
  double p_value = 0.0;  // NaN where tau is
  index_t n = 0;         // pairs of observations the statistic is taken over
  bool exact = false;    // whether p_value comes from the exact distribution
  // Pair counts over the n(n-1)/2 pairs (all 0 when an input holds a NaN).
  std::int64_t discordant = 0;
  std::int64_t x_tied = 0;      // pairs tied in x (including those tied in both)
  std::int64_t y_tied = 0;      // pairs tied in y (including those tied in both)
  std::int64_t joint_tied = 0;  // pairs tied in both
};

// Student's pooled-variance test (the authors' Ttest.py) or Welch's unequal-variance test.
enum class t_test_kind { student, welch };

struct t_test_options {
  t_test_kind kind = t_test_kind::student;
  memloc::alternative alternative = memloc::alternative::two_sided;
};

struct t_test_result {
  double statistic = 0.0;
  double df = 0.0;
  double p_value = 0.0;
};

// Count, mean and sum of squared deviations from the mean of a sample, in fp64. Summaries
// of disjoint parts merge into the summary of their union, so a streaming pass (or one per
// rank) can build them and the t-test needs no raw values.
struct sample_summary {
  index_t n = 0;
  double mean = 0.0;
  double m2 = 0.0;  // sum of (x - mean)^2

  // Welford's update: the mean moves by delta / n, and m2 grows by the product of the
  // deviations from the old and the new mean, which avoids the cancellation of sum(x^2).
  void add(double x) noexcept {
    ++n;
    const double delta = x - mean;
    mean += delta / static_cast<double>(n);
    m2 += delta * (x - mean);
  }

  // Chan, Golub and LeVeque's pairwise combination of two summaries.
  void merge(const sample_summary& other) noexcept {
    if (other.n == 0) return;
    if (n == 0) {
      *this = other;
      return;
    }
    const double na = static_cast<double>(n), nb = static_cast<double>(other.n);
    const double total = na + nb;
    const double delta = other.mean - mean;
    mean += delta * (nb / total);
    m2 += other.m2 + delta * delta * (na * nb / total);
    n += other.n;
  }

  // The unbiased variance m2 / (n - 1); NaN for fewer than two values.
  double variance() const noexcept {
    return n < 2 ? std::nan("") : m2 / static_cast<double>(n - 1);
  }
};

// Scores with a name: a measurement point's per-sample scores, or a layer's per-unit UnitMem.
template <class T = const double, class Space = host_space>
struct named_scores {
  std::string name;
  vector_view<T, Space> scores;
};

struct ranking {
  std::vector<index_t> indices;  // best first (highest for top, lowest for least); ties by lower index
  index_t nan_count = 0;         // NaN scores in the input, ranked after every number
};

struct overlap_result {
  index_t k = 0;          // size of each top-k set
  index_t count = 0;      // items in both sets
  double fraction = 0.0;  // count / k
};

// Pairwise overlaps of the top-k sets of named score vectors (LOC Table 3 layout).
struct overlap_matrix {
  std::vector<std::string> names;
  index_t k = 0;
  std::vector<index_t> counts;  // names.size() x names.size(), row-major; the diagonal is k

  index_t count(std::size_t i, std::size_t j) const { return counts[i * names.size() + j]; }
  double fraction(std::size_t i, std::size_t j) const {
    return static_cast<double>(count(i, j)) / static_cast<double>(k);
  }
};

// Pruning strategies of LOC Table 6.
enum class prune_selection { top, low, random };
enum class prune_scope {
  per_layer,  // the amount is taken in each layer from its own units
  total,      // the amount is taken once from the units of all layers together
};

struct pruning_options {
  prune_selection selection = prune_selection::top;
  prune_scope scope = prune_scope::per_layer;
  top_k amount = top_fraction(0.1);
  std::uint64_t seed = 0;  // for random
};

struct unit_masks {
  std::vector<std::string> names;                // one per layer, in input order
  std::vector<std::vector<std::uint8_t>> pruned;  // pruned[l][u] = 1 when unit u of layer l is selected
  std::vector<std::vector<index_t>> units;        // the selected units of each layer, increasing
  std::vector<index_t> nan_units;                 // NaN UnitMem units per layer (never selected as top or low)
};

struct layer_selection {
  std::vector<index_t> points;     // indices into the list of measurement points, best first
  std::vector<std::string> names;  // their names, in the same order
  index_t nan_count = 0;           // NaN values in the input (ΔLayerMem of the first point is one)
};

// How units and samples relate through each unit's argmax sample (LOC Fig. 1b, Table 12).
struct unit_sample_links {
  std::vector<double> argmax_score;     // per unit: the sample score of its argmax sample
  std::vector<index_t> top_units;       // the top units by UnitMem, highest first
  std::vector<index_t> top_unit_count;  // per sample id: how many top units have it as argmax
  index_t nan_units = 0;                // NaN UnitMem units (never among the top units)
};

}  // namespace memloc
