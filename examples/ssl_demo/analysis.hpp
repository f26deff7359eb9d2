#pragma once

// From the measurements to the report's numbers. Every metric and statistic comes from
// memloc (layermem, sslmem, top_k_indices, top_k_overlap, kendall_tau_b, t_test); this file
// only chooses what enters them and summarises per-unit vectors.

#include <cstdint>
#include <string>
#include <vector>

#include "measure.hpp"

namespace ssl_demo {

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

// The control of spec §1.2: per-sample SSLMem' at the last point of the candidates (which
// only f saw) against the held-out images (which neither saw), Welch's t-test, candidates >
// held-out; and of the independent images (which only g saw), whose scores a g that
// memorized pushes below zero.
struct control_comparison {
  std::string point;
  std::int64_t candidates = 0, held_out = 0, independent = 0;
  double candidate_mean = 0, held_out_mean = 0, independent_mean = 0;
  double statistic = 0, df = 0, p_value = 0;  // Welch, candidates > held-out
};

// LOC Fig. 1b and Table 12, per conv layer: each unit's argmax sample (the candidate it is
// most selective to) against that sample's SSLMem' at the last point.
struct unit_sample_row {
  std::string layer;
  std::int64_t units = 0, top_units = 0;          // top units: the layer's top-10 % by UnitMem
  std::int64_t distinct_argmax = 0;                 // distinct candidates among the top units' argmax
  std::int64_t most_shared_sample = -1, most_shared_count = 0;  // the candidate that is argmax of most top units
  double argmax_score_mean = 0;                     // mean SSLMem' of the top units' argmax candidates
  double candidate_score_mean = 0;                  // mean SSLMem' over all candidates, for comparison
  std::int64_t argmax_in_top_set = 0;               // top units whose argmax is among the most memorized subset
  double tau = 0, p_value = 0;                      // Kendall tau-b over all units: UnitMem vs its argmax's SSLMem'
};

// What the analysis would act on (LOC Tables 5, 6, 21): the points with the highest and
// lowest ΔLayerMem and the highest LayerMem, and where the most memorizing units are.
struct layer_choice {
  std::int64_t count = 3;
  std::vector<std::string> top_delta, least_delta, top_layermem;
  std::vector<std::string> layers;                  // conv layers, for the per-layer counts
  std::vector<std::int64_t> total_top_units;        // per layer: its units among the top 10 % of all conv units
  std::int64_t total_selected = 0;
};

// Per-sample SSLMem' (Eq. 2 ratio) at one point, and at every point.
std::vector<double> sslmem_scores_at(const alignment_measurement& alignment, std::size_t point);
std::vector<std::vector<double>> sslmem_scores(const alignment_measurement& alignment);
// LayerMem over every sample of the measured set, per point.
std::vector<double> layermem_means(const std::vector<measurement_point_info>& points, const alignment_measurement& alignment);
layermem_table layermem_analysis(const std::vector<measurement_point_info>& points, const alignment_measurement& alignment,
                                 std::int64_t subset_size);
control_comparison compare_with_controls(const layermem_table& candidates, const alignment_measurement& held_out,
                                         const alignment_measurement& independent);
std::vector<unitmem_summary> summarise_units(const unit_measurement& units);
std::vector<classmem_comparison> compare_classes(const unit_measurement& units);
std::vector<consistency_row> consistency(const std::vector<measurement_point_info>& points, const layermem_table& table, std::int64_t k);
std::vector<unit_sample_row> link_units_to_samples(const unit_measurement& units, const layermem_table& table);
layer_choice choose_layers(const layermem_table& table, const unit_measurement& units);
std::vector<unit_t_test_row> unit_t_tests(const unit_measurement& most, const unit_measurement& least);

// Mean over the numbers of a vector (NaN units are counted apart by memloc's reports).
double mean_of_numbers(const std::vector<double>& values);

}  // namespace ssl_demo
