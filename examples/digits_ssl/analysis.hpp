#pragma once

// From the measurements to the report's numbers. Every metric and statistic comes from
// memloc (layermem, sslmem, top_k_indices, top_k_overlap, kendall_tau_b, t_test); this file
// only chooses what enters them and summarises per-unit vectors.

#include <cstdint>
#include <string>
#include <vector>

#include "measure.hpp"

namespace digits_ssl {

// LOC Table 1: LayerMem over all candidates, the top-k and least-k by SSLMem at the last point.
struct layermem_table {
  std::vector<std::string> points;
  std::int64_t samples = 0, subset_size = 0;
  std::vector<double> all, delta_all, top, delta_top, least, delta_least;
  std::vector<std::vector<double>> scores;  // per point, per candidate: SSLMem' (Eq. 2)
  std::vector<std::int64_t> top_samples, least_samples;  // the subsets, by candidate index
};

struct unitmem_summary {
  std::string layer;
  std::int64_t units = 0, samples = 0, nan_units = 0;
  double mean = 0, max = 0, share_above_half = 0;
};

// LOC Fig. 2–3, summarised: are units more selective to a sample than to a class?
struct classmem_comparison {
  std::string layer;
  double mean_unitmem = 0, mean_classmem = 0;
  double share_unitmem_above_classmem = 0;  // of the units where both are numbers
};

// LOC Table 3: consistency of the most memorized samples between two points.
struct consistency_row {
  std::string a, b;
  std::int64_t k = 0, overlap = 0;
  double overlap_percent = 0, tau = 0, p_value = 0;
  std::int64_t n = 0;
};

// LOC Table 11: UnitMem with D' = the most memorized vs the least memorized candidates.
struct unit_t_test_row {
  std::string layer;
  std::int64_t units = 0, top_units = 0;
  double most_mean = 0, least_mean = 0;          // over all units of the layer
  double most_top_mean = 0, least_top_mean = 0;  // over each group's top-10 % units
  double statistic = 0, df = 0, p_value = 0;     // Student, most > least, all units
};

// LayerMem over every sample of the measured set, per point.
std::vector<double> layermem_means(const alignment_measurement& alignment);
layermem_table layermem_analysis(const alignment_measurement& alignment, std::int64_t subset_size);
std::vector<unitmem_summary> summarise_units(const unit_measurement& units);
std::vector<classmem_comparison> compare_classes(const unit_measurement& units);
std::vector<consistency_row> consistency(const layermem_table& table, std::int64_t k);
std::vector<unit_t_test_row> unit_t_tests(const unit_measurement& most, const unit_measurement& least);

// Mean over the numbers of a vector (NaN units are counted apart by memloc's reports).
double mean_of_numbers(const std::vector<double>& values);

}  // namespace digits_ssl
