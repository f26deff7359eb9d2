// The main job: two SimCLR encoders trained on the real 8x8 digits, and memloc measuring
// where f memorizes its candidates, from inside the training and inference loops.
//
//   memloc_digits_ssl [--quick] [--json PATH] [--data PATH] [--seed N] [--threads N]
//
// Exit status 0 on success, 2 on bad arguments or an unreadable data file, 1 otherwise.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <limits>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "analysis.hpp"
#include "digits_data.hpp"
#include "measure.hpp"
#include "model.hpp"
#include "report.hpp"
#include "train.hpp"

namespace {

using namespace digits_ssl;

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct options {
  bool quick = false;
  std::string json_path = "build/demo/digits_report.json";
  std::string data_path = default_digits_path;
  std::uint64_t seed = 2024;
  int threads = 1;
};

const char* const usage = "usage: memloc_digits_ssl [--quick] [--json PATH] [--data PATH] [--seed N] [--threads N]";

// The whole text must be a decimal integer in [0, maximum].
std::uint64_t unsigned_value(const std::string& flag, const std::string& text, const char* expected, std::uint64_t maximum) {
  std::size_t used = 0;
  unsigned long long parsed = 0;
  try {
    parsed = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || text.front() == '-' || text.front() == '+' || parsed > maximum) {
    throw usage_error(flag + ": expected " + expected + ", got '" + text + "'");
  }
  return parsed;
}

options parse(int argc, char** argv) {
  options result;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw usage_error(arg + ": expected a value after it, got nothing");
      return argv[++i];
    };
    if (arg == "--quick") {
      result.quick = true;
    } else if (arg == "--json") {
      result.json_path = value();
      if (result.json_path.empty()) throw usage_error("--json: expected a file path, got an empty string");
    } else if (arg == "--data") {
      result.data_path = value();
    } else if (arg == "--seed") {
      result.seed = unsigned_value(arg, value(), "a non-negative integer", std::numeric_limits<std::uint64_t>::max());
    } else if (arg == "--threads") {
      result.threads = static_cast<int>(unsigned_value(arg, value(), "an integer in [1, 64]", 64));
      if (result.threads == 0) throw usage_error("--threads: expected an integer in [1, 64], got '0'");
    } else if (arg == "-h" || arg == "--help") {
      std::cout << usage << '\n';
      std::exit(0);
    } else {
      throw usage_error("unknown argument '" + arg + "' (expected --quick, --json, --data, --seed or --threads)");
    }
  }
  return result;
}

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// The setting of each mode. Quick runs the same pipeline on a quarter of the data, for CI.
struct run_setup {
  double data_fraction;
  training_setup training;
  std::int64_t curve_every;  // epochs between UnitMem measurements during f's training
};

// Table 1's top-50 / least-50, Table 11's groups and Table 3's k; half the candidates when
// there are fewer than 100 (the quick mode), so that the two groups never overlap.
constexpr std::int64_t paper_subset_size = 50;

run_setup setup_for(bool quick) {
  if (quick) return {0.25, {3, 128, 2e-3, 0.5}, 1};
  return {1.0, {100, 128, 2e-3, 0.5}, 10};
}

digit_set subset(const digit_set& set, const std::vector<std::int64_t>& indices) {
  const auto index = torch::tensor(indices, torch::kInt64);
  return {set.images.index_select(0, index).contiguous(), set.labels.index_select(0, index).contiguous()};
}

int run(const options& opts) {
  const auto start = clock_type::now();
  torch::manual_seed(opts.seed);
  // One thread by default: this net's ops are so small that torch's OpenMP threads mostly
  // wait on each other, and on a shared machine a preempted thread stalls every op
  // (measured on the 2-core VM: 0.45 s per epoch with 2 threads, but single epochs of
  // 5-24 s while another job ran; 0.6-0.9 s with 1 thread, steady).
  torch::set_num_threads(opts.threads);
  // A precaution, not a measured need: denormal values take a slow path in x86 arithmetic.
  at::globalContext().setFlushDenormal(true);

  demo_results results;
  results.mode = opts.quick ? "quick" : "full";
  results.seed = opts.seed;
  results.data_path = opts.data_path;
  const auto setup = setup_for(opts.quick);
  results.training = setup.training;

  const auto all = load_digits(opts.data_path);
  const auto parts = split_digits(all, setup.data_fraction, opts.seed);
  results.images = all.size();
  results.shared = parts.shared.size();
  results.candidates = parts.candidate.size();
  results.independent = parts.independent.size();
  const auto subset_size = std::min(paper_subset_size, results.candidates / 2);
  results.seconds.emplace_back("load", seconds_since(start));

  measurement_setup measuring;
  results.views = measuring.views;

  // f, with UnitMem of its candidates measured every few epochs (LOC Fig. 10).
  auto phase = clock_type::now();
  torch::manual_seed(opts.seed);
  encoder f;
  auto record_curve = [&](std::int64_t epoch) {
    const auto units = measure_units(f, parts.candidate, measuring);
    results.curve.layers = units.layers;
    results.curve.epochs.push_back(epoch);
    std::vector<double> means, maxima;
    for (const auto& summary : summarise_units(units)) {
      means.push_back(summary.mean);
      maxima.push_back(summary.max);
    }
    results.curve.mean_unitmem.push_back(means);
    results.curve.max_unitmem.push_back(maxima);
  };
  record_curve(0);
  train_simclr(f, concatenate(parts.shared, parts.candidate), setup.training, [&](std::int64_t epoch, double loss) {
    results.f_loss.push_back(loss);
    if (epoch % setup.curve_every == 0 || epoch == setup.training.epochs) record_curve(epoch);
  });
  results.seconds.emplace_back("train_f", seconds_since(phase));

  // g: same architecture, seed and augmentations, shared + independent.
  phase = clock_type::now();
  torch::manual_seed(opts.seed);
  encoder g;
  train_simclr(g, concatenate(parts.shared, parts.independent), setup.training,
               [&](std::int64_t, double loss) { results.g_loss.push_back(loss); });
  results.seconds.emplace_back("train_g", seconds_since(phase));

  // One pass over the candidates through f and g on the same views.
  phase = clock_type::now();
  measuring.with_classes = true;
  alignment_measurement alignment;
  results.units = measure_units_and_alignment(f, g, parts.candidate, measuring, alignment);
  results.layers = layermem_analysis(alignment, subset_size);
  // The control: the same measurement on samples only g saw. What the candidates show
  // beyond it is f's memorization; what both show is a difference between f and g.
  alignment_measurement control;
  measuring.with_classes = false;
  measure_units_and_alignment(f, g, parts.independent, measuring, control);
  results.independent_layermem = layermem_means(control);
  results.unit_rows = summarise_units(results.units);
  results.class_rows = compare_classes(results.units);
  results.consistency_k = subset_size;
  results.consistency_rows = consistency(results.layers, subset_size);
  const auto most = measure_units(f, subset(parts.candidate, results.layers.top_samples), measuring);
  const auto least = measure_units(f, subset(parts.candidate, results.layers.least_samples), measuring);
  results.t_test_rows = unit_t_tests(most, least);
  results.seconds.emplace_back("measure", seconds_since(phase));
  results.seconds.emplace_back("total", seconds_since(start));

  print_report(std::cout, results);
  const std::filesystem::path json_path(opts.json_path);
  if (json_path.has_parent_path()) std::filesystem::create_directories(json_path.parent_path());
  std::ofstream json(json_path);
  write_json(json, results);
  json.close();
  if (!json) throw std::runtime_error("cannot write the JSON report to '" + opts.json_path + "'");
  std::cout << "JSON report: " << opts.json_path << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options opts;
  try {
    opts = parse(argc, argv);
  } catch (const usage_error& e) {
    std::cerr << "memloc_digits_ssl: " << e.what() << '\n' << usage << '\n';
    return 2;
  }
  if (!std::filesystem::is_regular_file(opts.data_path)) {
    std::cerr << "memloc_digits_ssl: --data: expected a readable digits.csv.gz file, got '" << opts.data_path
              << "' (install Debian's python3-sklearn, or run scripts/setup)\n";
    return 2;
  }
  try {
    return run(opts);
  } catch (const data_error& e) {
    std::cerr << "memloc_digits_ssl: --data: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "memloc_digits_ssl: " << e.what() << '\n';
    return 1;
  }
}
