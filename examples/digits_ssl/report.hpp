#pragma once

// The report: human-readable tables on stdout, and the same numbers as JSON.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "analysis.hpp"
#include "train.hpp"

namespace digits_ssl {

// UnitMem of f's conv layers measured after some epochs of its training (LOC Fig. 10).
struct training_curve {
  std::vector<std::string> layers;
  std::vector<std::int64_t> epochs;
  std::vector<std::vector<double>> mean_unitmem;  // per measured epoch, per layer
  std::vector<std::vector<double>> max_unitmem;
};

struct demo_results {
  std::string mode, data_path;
  std::uint64_t seed = 0;
  std::int64_t images = 0, shared = 0, candidates = 0, independent = 0;
  training_setup training;
  std::int64_t views = 0;
  std::vector<double> f_loss, g_loss;  // mean loss per epoch
  training_curve curve;
  unit_measurement units;              // f on the candidates, with ClassMem
  layermem_table layers;
  std::vector<double> independent_layermem;  // the control: LayerMem over the independent set, per point
  std::vector<unitmem_summary> unit_rows;
  std::vector<classmem_comparison> class_rows;
  std::int64_t consistency_k = 0;
  std::vector<consistency_row> consistency_rows;
  std::vector<unit_t_test_row> t_test_rows;
  std::vector<std::pair<std::string, double>> seconds;  // wall time per phase
};

void print_report(std::ostream& out, const demo_results& results);
void write_json(std::ostream& out, const demo_results& results);

}  // namespace digits_ssl
