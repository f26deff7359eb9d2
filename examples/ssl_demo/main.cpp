// The main job: two SimCLR encoders trained on real images (Fashion-MNIST by default, or
// scikit-learn's digits), and memloc measuring where f memorizes its candidates, from
// inside the training and inference loops.
//
// `memloc_ssl_demo --help` lists the options; docs/demo.md explains them.
//
// Exit status 0 on success, 2 on bad arguments or an unreadable data file, 1 otherwise.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include "analysis.hpp"
#include "cli/arguments.hpp"
#include "data.hpp"
#include "measure.hpp"
#include "model.hpp"
#include "report.hpp"
#include "train.hpp"

namespace {

using namespace ssl_demo;

using memloc::cli::add_integer;
using memloc::cli::add_positive;
using memloc::cli::usage_error;

struct options {
  std::string dataset = "fashion-mnist";
  bool quick = false;
  std::string json_path;  // default: build/demo/<dataset>_report.json
  std::string data_path;  // default: where Debian installs the dataset
  std::optional<std::int64_t> subset, epochs;
  std::optional<double> width, temperature;
  std::uint64_t seed = 2024;
  int threads = 1;
};

options parse(CLI::App& app, int argc, char** argv) {
  options result;
  // CLI11 takes "" as a value; an empty path would fail only later, at the first read or write.
  const CLI::Validator non_empty_path(
      [](std::string& text) { return text.empty() ? std::string("must be a path, got an empty string") : std::string(); }, "", "");
  std::int64_t subset = 0, epochs = 0, seed = static_cast<std::int64_t>(result.seed), threads = result.threads;
  double width = 0.0, temperature = 0.0;
  app.add_option("--dataset", result.dataset, "the images")
      ->check(CLI::IsMember({"fashion-mnist", "digits"}))
      ->capture_default_str();
  app.add_flag("--quick", result.quick, "the same pipeline in seconds: fewer images, 3 epochs");
  app.add_option("--json", result.json_path, "the JSON report (default: build/demo/DATASET_report.json)")->check(non_empty_path);
  app.add_option("--data", result.data_path, "the dataset (default: where Debian installs it)")->check(non_empty_path);
  // 40 images give 4 candidates, the fewest whose most / least halves hold two samples each.
  auto* subset_option =
      add_integer(app, "--subset", subset, 40, 60000, "training images drawn, split 80/10/10 (default: per dataset and mode)");
  auto* epochs_option = add_integer(app, "--epochs", epochs, 1, 10000, "SimCLR epochs (default: per dataset and mode)");
  auto* width_option = add_positive(app, "--width", width, 4.0, "ResNet9's width multiplier, fashion-mnist only (default: 0.5)");
  auto* temperature_option = add_positive(app, "--temperature", temperature, 10.0, "SimCLR's temperature (default: per dataset)");
  // The JSON report writes the seed as a signed 64-bit integer.
  add_integer(app, "--seed", seed, 0, std::numeric_limits<std::int64_t>::max(), "of the split, the weights and the augmentations")
      ->capture_default_str();
  add_integer(app, "--threads", threads, 1, 64, "torch threads per encoder")->capture_default_str();
  app.parse(argc, argv);

  if (subset_option->count() > 0) result.subset = subset;
  if (epochs_option->count() > 0) result.epochs = epochs;
  if (width_option->count() > 0) result.width = width;
  if (temperature_option->count() > 0) result.temperature = temperature;
  result.seed = static_cast<std::uint64_t>(seed);
  result.threads = static_cast<int>(threads);
  if (result.dataset == "digits" && result.width) throw usage_error("--width: applies to fashion-mnist's ResNet9, not to the digits' net");
  if (result.data_path.empty()) result.data_path = result.dataset == "digits" ? default_digits_path : default_fashion_mnist_directory;
  if (result.json_path.empty()) result.json_path = "build/demo/" + result.dataset + "_report.json";
  return result;
}

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// Everything a run is made of, per dataset and mode; flags override the sizes.
struct run_setup {
  std::int64_t subset = 0;
  std::int64_t held_out_per_candidate = 1;
  std::int64_t held_out = 0;  // derived: candidates (a tenth of the subset) x held_out_per_candidate
  architecture arch;
  augmentation_policy policy;
  training_setup training;
  std::int64_t curve_every = 1;  // epochs between UnitMem measurements during f's training: a tenth of them
};

// Fashion-MNIST full: the sizes docs/demo.md's sizing runs chose to fit 15 minutes on two
// cores with the candidates' memorization significant; quick: the same pipeline in seconds.
run_setup setup_for(const options& opts, std::int64_t train_pool, std::int64_t held_out_pool) {
  run_setup setup;
  if (opts.dataset == "fashion-mnist") {
    // docs/demo.md, "Choosing the sizes": of the settings tried, the only one whose
    // candidates stood above the held-out control at p < 0.01 within the budget.
    setup.subset = opts.quick ? 500 : 1000;
    // The control's power is bounded by the candidates' count; held-out images cost only
    // inference, so the full run takes four times as many to shrink their share of the error.
    setup.held_out_per_candidate = opts.quick ? 1 : 4;
    setup.arch = resnet9(opts.width.value_or(0.5));
    setup.policy = fashion_policy();
    setup.training = {opts.quick ? 3 : 250, 128, 2e-3, 0.1};
  } else {
    // All digits but a tenth held out (the quick mode: a quarter of that).
    const auto usable = train_pool - train_pool / 10;
    setup.subset = opts.quick ? usable / 4 : usable;
    setup.arch = digits_resnet();
    setup.policy = digits_policy();
    setup.training = {opts.quick ? 3 : 100, 128, 2e-3, 0.5};
  }
  if (opts.subset) setup.subset = *opts.subset;
  setup.held_out = setup.subset / 10 * setup.held_out_per_candidate;
  if (opts.temperature) setup.training.temperature = *opts.temperature;
  // A subset the pools cannot serve is the flag's fault, not the data's.
  const auto train_needed = setup.subset + (held_out_pool > 0 ? 0 : setup.held_out);
  if (held_out_pool > 0) setup.held_out = std::min(setup.held_out, held_out_pool);
  if (train_needed > train_pool) {
    throw usage_error("--subset: expected at most " + std::to_string(train_pool - (held_out_pool > 0 ? 0 : setup.held_out)) + " for " +
                      opts.dataset + " (" + std::to_string(train_pool) + " training images" +
                      (held_out_pool > 0 ? "" : ", " + std::to_string(setup.held_out) + " of them held out") + "), got " +
                      std::to_string(setup.subset));
  }
  if (opts.epochs) setup.training.epochs = *opts.epochs;
  setup.curve_every = std::max<std::int64_t>(1, setup.training.epochs / 10);
  return setup;
}

// Table 1's top-50 / least-50, Table 11's groups and Table 3's k; half the candidates when
// there are fewer than 100 (the quick mode), so that the two groups never overlap.
constexpr std::int64_t paper_subset_size = 50;

// A field of /proc/self/status in bytes ("VmRSS", "VmHWM"), -1 where the file is missing.
std::int64_t proc_status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  }
  return -1;
}

// Resets the peak-resident mark so that VmHWM afterwards is the peak of what follows
// (Linux >= 4.0); false where it cannot.
bool reset_peak_resident() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.close();
  return static_cast<bool>(clear);
}

at::Generator seeded_generator(std::uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

int run(const options& opts) {
  const auto start = clock_type::now();
  // Each encoder trains in its own thread with this many torch threads: this net's ops are
  // small, so two single-threaded trainings side by side use two cores better than one
  // training whose every op is split in two (docs/demo.md).
  torch::set_num_threads(opts.threads);
  // A precaution, not a measured need: denormal values take a slow path in x86 arithmetic.
  at::globalContext().setFlushDenormal(true);

  const auto data = opts.dataset == "digits" ? load_digits(opts.data_path) : load_fashion_mnist(opts.data_path);
  const auto setup = setup_for(opts, data.train.size(), data.held_out_pool());

  demo_results results;
  results.mode = opts.quick ? "quick" : "full";
  results.dataset = data.name;
  results.data_path = opts.data_path;
  results.class_names = data.class_names;
  results.seed = opts.seed;
  results.arch = setup.arch;
  results.points = measurement_points(setup.arch);
  results.training = setup.training;
  results.threads_per_encoder = opts.threads;
  results.train_pool = data.train.size();
  results.held_out_pool = data.held_out_pool();

  const auto parts = split_protocol(data, setup.subset, setup.held_out, opts.seed);
  results.subset = setup.subset;
  results.shared = parts.shared.size();
  results.candidates = parts.candidate.size();
  results.independent = parts.independent.size();
  results.held_out = parts.held_out.size();
  const auto subset_size = std::min(paper_subset_size, results.candidates / 2);
  results.seconds.emplace_back("load", seconds_since(start));

  measurement_setup measuring;
  measuring.classes = data.classes();
  measuring.policy = setup.policy;
  results.views = measuring.views;
  // The measurement views come from their own stream, so that measuring f during its
  // training leaves f's training stream equal to g's.
  auto measure_generator = seeded_generator(opts.seed ^ 0x9e3779b97f4a7c15ULL);

  // Same initial weights: the global generator reseeded before each pair is built.
  torch::manual_seed(opts.seed);
  encoder f(setup.arch);
  projection_head f_head(setup.arch);
  torch::manual_seed(opts.seed);
  encoder g(setup.arch);
  projection_head g_head(setup.arch);

  // f and g side by side, each in a thread of its own (symmetric: the main thread's heap
  // behaves differently from a worker's), f with UnitMem of its candidates measured every
  // few epochs (LOC Fig. 10), g on shared + independent from a generator of the same seed.
  auto phase = clock_type::now();
  double curve_seconds = 0.0;
  auto record_curve = [&](std::int64_t epoch) {
    const auto curve_start = clock_type::now();
    const auto units = measure_units(f, parts.candidate, measuring, measure_generator);
    results.curve.layers = units.layers;
    results.curve.epochs.push_back(epoch);
    std::vector<double> means, maxima;
    for (const auto& summary : summarise_units(units)) {
      means.push_back(summary.mean);
      maxima.push_back(summary.max);
    }
    results.curve.mean_unitmem.push_back(means);
    results.curve.max_unitmem.push_back(maxima);
    curve_seconds += seconds_since(curve_start);
  };
  auto train_f = [&] {
    record_curve(0);
    train_simclr(f, f_head, concatenate(parts.shared, parts.candidate), setup.training, setup.policy, seeded_generator(opts.seed),
                 [&](std::int64_t epoch, double loss) {
                   results.f_loss.push_back(loss);
                   if (epoch % setup.curve_every == 0 || epoch == setup.training.epochs) {
                     record_curve(epoch);
                     // Progress on stderr, so that a long run shows it is alive and the report stays clean.
                     std::cerr << "memloc_ssl_demo: f epoch " << epoch << "/" << setup.training.epochs << ", loss " << loss << ", "
                               << static_cast<int>(seconds_since(start)) << " s" << std::endl;
                   }
                 });
  };
  auto train_g = [&] {
    train_simclr(g, g_head, concatenate(parts.shared, parts.independent), setup.training, setup.policy, seeded_generator(opts.seed),
                 [&](std::int64_t, double loss) { results.g_loss.push_back(loss); });
  };
  struct timed_training {
    std::exception_ptr failure;
    double seconds = 0.0;
  } f_run, g_run;
  auto in_thread = [&](const std::function<void()>& train, timed_training& run) {
    return std::thread([&, train] {
      try {
        torch::set_num_threads(opts.threads);
        at::globalContext().setFlushDenormal(true);  // a per-thread setting
        const auto thread_start = clock_type::now();
        train();
        run.seconds = seconds_since(thread_start);
      } catch (...) {
        run.failure = std::current_exception();
      }
    });
  };
  std::thread f_thread = in_thread(train_f, f_run);
  std::thread g_thread = in_thread(train_g, g_run);
  f_thread.join();
  g_thread.join();
  if (f_run.failure) std::rethrow_exception(f_run.failure);
  if (g_run.failure) std::rethrow_exception(g_run.failure);
  results.seconds.emplace_back("train_f", f_run.seconds);
  results.seconds.emplace_back("of_which_unitmem_during_training", curve_seconds);
  results.seconds.emplace_back("train_g", g_run.seconds);
  results.seconds.emplace_back("train_both", seconds_since(phase));

  // The inference pass: candidates, then the controls, through f and g on the same views.
  phase = clock_type::now();
  results.memory.process_peak_bytes = proc_status_bytes("VmHWM");
  results.memory.before_bytes = proc_status_bytes("VmRSS");
  const bool peak_reset = reset_peak_resident();
  measuring.with_classes = true;
  alignment_measurement alignment;
  results.units = measure_units_and_alignment(f, g, parts.candidate, measuring, measure_generator, alignment);
  results.memory.memloc_state_bytes = results.units.memloc_state_bytes;
  if (peak_reset) results.memory.measure_peak_bytes = proc_status_bytes("VmHWM");
  results.memory.process_peak_bytes = std::max(results.memory.process_peak_bytes, proc_status_bytes("VmHWM"));
  results.layers = layermem_analysis(results.points, alignment, subset_size);
  measuring.with_classes = false;
  alignment_measurement held_out, independent;
  measure_units_and_alignment(f, g, parts.held_out, measuring, measure_generator, held_out);
  measure_units_and_alignment(f, g, parts.independent, measuring, measure_generator, independent);
  results.held_out_layermem = layermem_means(results.points, held_out);
  results.independent_layermem = layermem_means(results.points, independent);
  results.control = compare_with_controls(results.layers, held_out, independent);
  results.unit_rows = summarise_units(results.units);
  results.class_rows = compare_classes(results.units);
  results.consistency_k = subset_size;
  results.consistency_rows = consistency(results.points, results.layers, subset_size);
  const auto most = measure_units(f, select(parts.candidate, results.layers.top_samples), measuring, measure_generator);
  const auto least = measure_units(f, select(parts.candidate, results.layers.least_samples), measuring, measure_generator);
  results.t_test_rows = unit_t_tests(most, least);
  results.unit_sample_rows = link_units_to_samples(results.units, results.layers);
  results.choice = choose_layers(results.layers, results.units);
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

// Bad arguments, and a --subset the pools cannot serve: exit status 2.
int refuse(const char* message) {
  std::cerr << "memloc_ssl_demo: " << message << "\nRun memloc_ssl_demo --help for the options.\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The main job: two SimCLR encoders trained on real images, and memloc measuring where f memorizes its candidates.",
               "memloc_ssl_demo"};
  app.footer("Exit status 0 on success, 2 on bad arguments or an unreadable data file, 1 otherwise. See docs/demo.md.");
  options opts;
  try {
    opts = parse(app, argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help
    return refuse(e.what());
  } catch (const usage_error& e) {
    return refuse(e.what());
  }
  const bool digits = opts.dataset == "digits";
  if (digits ? !std::filesystem::is_regular_file(opts.data_path) : !std::filesystem::is_directory(opts.data_path)) {
    std::cerr << "memloc_ssl_demo: --data: expected " << (digits ? "a readable digits.csv.gz file" : "a directory of Fashion-MNIST's IDX files")
              << ", got '" << opts.data_path << "' (install Debian's " << (digits ? "python3-sklearn" : "dataset-fashion-mnist")
              << ", or run scripts/setup)\n";
    return 2;
  }
  try {
    return run(opts);
  } catch (const usage_error& e) {
    return refuse(e.what());
  } catch (const data_error& e) {
    std::cerr << "memloc_ssl_demo: --data: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "memloc_ssl_demo: " << e.what() << '\n';
    return 1;
  }
}
