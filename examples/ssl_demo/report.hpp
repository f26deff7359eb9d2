#pragma once

// The report: human-readable tables on stdout, and the same numbers as JSON.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "analysis.hpp"
#include "train.hpp"

namespace ssl_demo {

// UnitMem of f's conv layers measured after some epochs of its training (LOC Fig. 10).
struct training_curve {
  std::vector<std::string> layers;
  std::vector<std::int64_t> epochs;
  std::vector<std::vector<double>> mean_unitmem;  // per measured epoch, per layer
  std::vector<std::vector<double>> max_unitmem;
};

// Resident memory around the measurement pass (Linux /proc; -1 where unavailable).
struct memory_use {
  std::int64_t before_bytes = -1;        // resident when the pass started (the data, both encoders)
  std::int64_t measure_peak_bytes = -1;  // peak resident during the pass
  std::int64_t process_peak_bytes = -1;  // peak resident of the whole run, training included
  std::int64_t memloc_state_bytes = 0;   // memloc's accumulators over the candidates
};

struct demo_results {
  std::string mode, dataset, data_path;
  std::vector<std::string> class_names;
  std::uint64_t seed = 0;
  architecture arch;
  std::vector<measurement_point_info> points;
  std::int64_t train_pool = 0, held_out_pool = 0;  // images the protocol drew from
  std::int64_t subset = 0, shared = 0, candidates = 0, independent = 0, held_out = 0;
  training_setup training;
  int threads_per_encoder = 1;
  std::int64_t views = 0;
  std::vector<double> f_loss, g_loss;  // mean loss per epoch
  training_curve curve;
  unit_measurement units;              // f on the candidates, with ClassMem
  layermem_table layers;
  std::vector<double> held_out_layermem;     // the control: LayerMem over the held-out set, per point
  std::vector<double> independent_layermem;  // the mirror: LayerMem over the independent set, per point
  control_comparison control;
  std::vector<unitmem_summary> unit_rows;
  std::vector<classmem_comparison> class_rows;
  std::int64_t consistency_k = 0;
  std::vector<consistency_row> consistency_rows;
  std::vector<unit_t_test_row> t_test_rows;
  std::vector<unit_sample_row> unit_sample_rows;
  layer_choice choice;
  std::vector<std::pair<std::string, double>> seconds;  // wall time per phase
  memory_use memory;
};

void print_report(std::ostream& out, const demo_results& results);
void write_json(std::ostream& out, const demo_results& results);

}  // namespace ssl_demo
