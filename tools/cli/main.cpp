// The memloc command: memorization metrics from activation dumps (.npy), streamed in chunks
// so files larger than memory are handled with bounded memory. `memloc --help` and
// `memloc SUBCOMMAND --help` list the options; docs/cli.md explains them.
//
// Exit status: 0 on success, 2 on bad input (arguments or files), 1 on any other failure.
// Output files are written whole or not at all.

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <memloc/analysis.hpp>
#include <memloc/memloc.hpp>

#include "arguments.hpp"
#include "device.hpp"
#include "folds.hpp"
#include "layer_scores.hpp"
#include "layout.hpp"
#include "npy.hpp"
#include "report.hpp"

namespace {

using memloc::index_t;
using namespace memloc::cli;

constexpr const char* footer_text =
    "K is a count (100) or a percentage (1%).\n"
    "LAYOUT names the file's axes: n samples, v views, u units, s positions (or h w), e.g. nvus, vnus,\n"
    "nvsu, nvuhw, nvhwu, nvu. Scores are 1-D .npy files or FILE.json:PATH in a report of this command\n"
    "(conv3.json:unitmem, layers.json:points/conv2/sslmem). See docs/cli.md.";

// A file, a directory of per-batch files, or a glob of them, read as one stream.
memloc::npy::npy_stream open_stream(const std::string& where, const memloc::npy::open_options& options = {}) {
  if (where.find_first_of("*?[") != std::string::npos) return memloc::npy::npy_stream::from_glob(where, options);
  std::error_code ec;
  if (std::filesystem::is_directory(where, ec)) return memloc::npy::npy_stream::from_directory(where, options);
  return memloc::npy::npy_stream({where}, options);
}

// A 1-D integer file (sample ids, labels, argmax ids), read whole: one integer per sample or
// unit, small beside the activations.
std::vector<std::int64_t> read_integer_file(const std::string& option, const std::string& path) {
  memloc::npy::open_options options;
  options.integers = true;
  const auto stream = open_stream(path, options);
  if (stream.shape().size() != 1) {
    throw usage_error(option + " " + path + " must hold a 1-D array of integers, got rank " + std::to_string(stream.shape().size()));
  }
  if (!memloc::npy::is_integer(stream.type())) {
    throw usage_error(option + " " + path + " must hold integers, got " + memloc::npy::to_string(stream.type()));
  }
  std::vector<std::int64_t> values(static_cast<std::size_t>(stream.rows()));
  stream.read_rows(0, stream.rows(), values.data());
  return values;
}

std::vector<std::int64_t> read_per_sample(const std::string& option, const std::string& path, index_t samples) {
  auto values = read_integer_file(option, path);
  if (static_cast<index_t>(values.size()) != samples) {
    throw usage_error(option + " " + path + " must hold " + std::to_string(samples) + " integers (one per sample), got " +
                      std::to_string(values.size()));
  }
  return values;
}

// Scores from a 1-D .npy file (float or double), or from a report of this command.
std::vector<double> read_scores(const std::string& option, const std::string& path) {
  const auto json_at = path.find(".json:");
  if (json_at != std::string::npos) {
    try {
      return json_numbers(path.substr(0, json_at + 5), path.substr(json_at + 6));
    } catch (const json_error& e) {
      throw usage_error(option + " " + e.what());
    }
  }
  const auto stream = open_stream(path);
  if (stream.shape().size() != 1) {
    throw usage_error(option + " " + path + " must hold a 1-D array of scores, got rank " + std::to_string(stream.shape().size()));
  }
  std::vector<double> values(static_cast<std::size_t>(stream.rows()));
  stream.read_rows(0, stream.rows(), values.data());
  return values;
}

// Sample ids (argmax ids of units) from a 1-D integer .npy file or a report, as integers.
std::vector<std::int64_t> read_ids(const std::string& option, const std::string& path) {
  const auto json_at = path.find(".json:");
  if (json_at == std::string::npos) return read_integer_file(option, path);
  try {
    return json_ids(path.substr(0, json_at + 5), path.substr(json_at + 6));
  } catch (const json_error& e) {
    throw usage_error(option + " " + e.what());
  }
}

template <class T>
memloc::vector_view<const T> view_of(const std::vector<T>& v) {
  return memloc::make_vector_view(v.data(), static_cast<index_t>(v.size()));
}

report report_header(const char* command) {
  report r;
  r["memloc_version"] = memloc::version_string();
  r["command"] = command;
  return r;
}

// Options every subcommand but plot takes.
struct common_options {
  std::int64_t threads = 0;
  std::string json;

  void declare(CLI::App& app) {
    add_integer(app, "--threads", threads, 0, "OpenMP threads (0: the runtime's default)")->capture_default_str();
    app.add_option("--json", json, "write the report to this file");
  }
  memloc::host_exec exec() const { return memloc::host_exec{static_cast<int>(threads)}; }
  void write(const report& r) const {
    if (!json.empty()) write_report(json, r);
  }
};

// Where the folds run, and in chunks of how many rows.
struct fold_options {
  std::string device = "cpu";
  std::int64_t chunk_rows = 0;

  void declare(CLI::App& app) {
    app.add_option("--device", device, "cpu, or cuda (a build with the CUDA backend and a GPU)")
        ->check(CLI::IsMember({"cpu", "cuda"}))
        ->capture_default_str();
    add_integer(app, "--chunk-rows", chunk_rows, 0, "rows of the first axis per chunk (0: as many as fit 256 MB)")
        ->capture_default_str();
  }
  bool on_device() const {
    if (device != "cuda") return false;
    const std::string problem = cuda_problem();
    if (!problem.empty()) throw memloc::logic_error("--device cuda: " + problem);
    return true;
  }
};

// ---- unitmem ------------------------------------------------------------------------------

struct unitmem_command {
  common_options common;
  fold_options fold;
  std::string acts, layout, labels, ids, csv;
  std::int64_t classes = 0;
  bool bf16 = false;
  memloc::unitmem_options options;

  void declare(CLI::App& app) {
    app.add_option("--acts", acts, "activations: a .npy file, a directory of them, or a glob")->required();
    app.add_option("--layout", layout, "the file's axes (LAYOUT below)")->required();
    add_choice(app, "--reduce", options.rest, "the rest-of-samples reduction (LOC Eq. 7)");
    add_choice(app, "--transform", options.transform, "applied to every activation first");
    auto* labels_option = app.add_option("--labels", labels, "1-D integer .npy, one label per sample: adds ClassMem");
    add_integer(app, "--classes", classes, 2, "classes (default: the largest label + 1)")->needs(labels_option);
    app.add_option("--ids", ids, "1-D integer .npy of sample ids (default: 0, 1, ...)");
    app.add_flag("--bf16", bf16, "uint16 files hold bfloat16 bits (PyTorch dumps of bf16 tensors)");
    app.add_option("--csv", csv, "write a per-unit CSV to this file");
    common.declare(app);
    fold.declare(app);
  }

  sample_info samples_of(const activation_layout& shape) const {
    sample_info samples;
    if (!ids.empty()) {
      samples.ids = read_per_sample("--ids", ids, shape.samples);
      for (const auto id : samples.ids) {
        if (id < 0) throw usage_error("--ids " + ids + " must hold non-negative ids, got " + std::to_string(id));
        samples.id_space = std::max<index_t>(samples.id_space, id + 1);
      }
    } else {
      samples.ids = memloc::detail::sequential_ids(shape.samples);
      samples.id_space = shape.samples;
    }
    if (!labels.empty()) {
      if (shape.view_major) {
        throw usage_error("--labels needs a layout whose first axis is n (ClassMem folds all views of a sample together)");
      }
      samples.labels = read_per_sample("--labels", labels, shape.samples);
      index_t largest = -1;
      for (const auto label : samples.labels) largest = std::max<index_t>(largest, label);
      samples.classes = classes > 0 ? classes : largest + 1;
    }
    return samples;
  }

  void run() const {
    host_memory host{common.exec()};
    const bool cuda = fold.on_device();
    memloc::npy::open_options open;
    open.uint16_as_bfloat16 = bf16;
    const auto stream = open_stream(acts, open);
    const activation_layout shape = parse_layout(layout, stream.shape());
    const sample_info samples = samples_of(shape);
    const unitmem_result r = cuda ? fold_unitmem_on_device(stream, shape, options, samples, fold.chunk_rows)
                                  : fold_unitmem_file(stream, shape, host, options, samples, fold.chunk_rows);
    std::printf("UnitMem of %lld units over %lld samples (%lld views, %lld positions): mean %.6g, max %.6g, NaN units %lld\n",
                static_cast<long long>(shape.units), static_cast<long long>(r.report.samples),
                static_cast<long long>(shape.views), static_cast<long long>(shape.positions),
                std::accumulate(r.unitmem.begin(), r.unitmem.end(), 0.0) / static_cast<double>(r.unitmem.size()),
                *std::max_element(r.unitmem.begin(), r.unitmem.end()), static_cast<long long>(r.report.nan_units));
    if (r.has_classes) {
      std::printf("ClassMem over %lld classes with samples: mean %.6g, NaN units %lld\n",
                  static_cast<long long>(r.class_report.classes_with_samples),
                  std::accumulate(r.classmem.begin(), r.classmem.end(), 0.0) / static_cast<double>(r.classmem.size()),
                  static_cast<long long>(r.class_report.nan_units));
    }
    report out = report_header("unitmem");
    out["options"] = {{"acts", acts},
                      {"layout", shape.letters},
                      {"reduce", memloc::to_string(options.rest)},
                      {"transform", memloc::to_string(options.transform)}};
    out["samples"] = r.report.samples;
    out["units"] = r.report.units;
    out["views"] = shape.views;
    out["positions"] = shape.positions;
    out["nan_units"] = r.report.nan_units;
    out["negative_denominator_units"] = r.report.negative_denominator_units;
    out["unitmem"] = r.unitmem;
    out["mu_max"] = r.mu_max;
    out["argmax"] = r.argmax;
    out["mu_rest"] = r.mu_rest;
    if (r.has_classes) {
      out["classes"] = samples.classes;
      out["classes_with_samples"] = r.class_report.classes_with_samples;
      out["classmem"] = r.classmem;
      out["class_mu_max"] = r.class_mu_max;
      out["max_class"] = r.max_class;
      out["class_mu_rest"] = r.class_mu_rest;
    }
    common.write(out);
    if (!csv.empty()) write_csv(r);
  }

  void write_csv(const unitmem_result& r) const {
    atomic_file file(csv);
    file.stream() << "unit,unitmem,mu_max,argmax,mu_rest" << (r.has_classes ? ",classmem,max_class" : "") << '\n';
    for (std::size_t u = 0; u < r.unitmem.size(); ++u) {
      file.stream() << u << ',' << shortest(r.unitmem[u]) << ',' << shortest(r.mu_max[u]) << ',' << r.argmax[u] << ','
                    << shortest(r.mu_rest[u]);
      if (r.has_classes) file.stream() << ',' << shortest(r.classmem[u]) << ',' << r.max_class[u];
      file.stream() << '\n';
    }
    file.commit();
  }
};

// ---- layermem ----------------------------------------------------------------------------

// all, or KIND:K with KIND random, top or least.
memloc::sample_subset parse_subset(const std::string& text, std::uint64_t seed) {
  memloc::sample_subset subset;
  subset.seed = seed;
  if (text == "all") return subset;
  const auto colon = text.find(':');
  const std::string kind = text.substr(0, colon);
  const auto parsed = memloc::from_string<memloc::subset_kind>(kind);
  if (!parsed || *parsed == memloc::subset_kind::all) {
    throw usage_error("--subset must be all, random:K, top:K or least:K, got \"" + text + "\"");
  }
  if (colon == std::string::npos) throw usage_error("--subset " + kind + " needs a size, as in " + kind + ":100");
  const auto k = k_from_text(text.substr(colon + 1));
  if (!k || k->kind != memloc::top_k_kind::count) {
    throw usage_error("--subset " + kind + ": the size must be a count >= 1, got \"" + text.substr(colon + 1) + "\"");
  }
  subset.kind = *parsed;
  subset.k = k->count;
  return subset;
}

struct layermem_command {
  common_options common;
  fold_options fold;
  std::vector<std::vector<std::string>> point_files;
  std::string subset = "all", csv;
  std::int64_t seed = 0;
  memloc::alignment_options alignment;
  memloc::layermem_options options;

  void declare(CLI::App& app) {
    app.add_option("--point", point_files, "a measurement point: its name and the representations of f and g there")
        ->type_size(3)
        ->allow_extra_args(false)
        ->type_name("NAME F G")
        ->required();
    add_choice(app, "--distance", alignment.distance, "between two views' representations");
    add_choice(app, "--pairs", alignment.pairs, "which pairs of views are compared");
    add_choice(app, "--normalize", options.score.normalization, "SSLMem's normalization (LOC Eq. 2 is ratio)");
    app.add_flag("--clamp", options.score.clamp01, "clamp each SSLMem score to [0, 1]");
    app.add_option("--subset", subset, "the samples LayerMem averages over: all, random:K, top:K or least:K")
        ->capture_default_str();
    add_integer(app, "--seed", seed, 0, "seed of --subset random")->capture_default_str();
    app.add_option("--csv", csv, "write a per-point CSV to this file");
    common.declare(app);
    fold.declare(app);
  }

  void run() {
    const memloc::host_exec exec = common.exec();
    host_memory host{exec};
    const bool cuda = fold.on_device();
    options.subset = parse_subset(subset, static_cast<std::uint64_t>(seed));
    std::vector<point_result> points;
    for (const auto& files : point_files) {
      point_result point;
      point.name = files[0];
      const auto f = open_stream(files[1]);
      const auto g = open_stream(files[2]);
      if (f.shape().size() < 3) {
        throw usage_error("--point " + point.name + ": " + files[1] + " must be [samples, views, features...], got rank " +
                          std::to_string(f.shape().size()));
      }
      if (f.shape() != g.shape()) throw usage_error("--point " + point.name + ": " + files[2] + " must have the shape of " + files[1]);
      if (cuda) {
        fold_alignment_on_device(f, g, alignment, point, fold.chunk_rows);
      } else {
        fold_alignment_files(f, g, host, alignment, point, fold.chunk_rows);
      }
      points.push_back(std::move(point));
    }
    const auto samples = static_cast<index_t>(points.front().ssl_f.size());
    const layer_scores scored = score_points(exec, points, options);
    const auto& layermem = scored.layermem;
    const auto& delta = scored.delta;
    const auto& members = scored.members;
    std::printf("%-16s %12s %12s\n", "point", "LayerMem", "ΔLayerMem");
    for (std::size_t p = 0; p < points.size(); ++p) {
      std::printf("%-16s %12.6f %12.6f\n", points[p].name.c_str(), layermem[p], delta[p]);
    }
    report out = report_header("layermem");
    out["options"] = {{"distance", memloc::to_string(alignment.distance)},
                      {"pairs", memloc::to_string(alignment.pairs)},
                      {"normalize", memloc::to_string(options.score.normalization)},
                      {"clamp", options.score.clamp01},
                      {"subset", memloc::to_string(options.subset.kind)},
                      {"subset_size", static_cast<index_t>(members.size())},
                      {"seed", seed}};
    out["samples"] = samples;
    out["subset"] = members;
    report& listed = out["points"] = report::array();
    for (std::size_t p = 0; p < points.size(); ++p) {
      listed.push_back({{"name", points[p].name},
                        {"layermem", layermem[p]},
                        {"delta_layermem", delta[p]},
                        {"sslmem", points[p].scores},
                        {"ssl_f", points[p].ssl_f},
                        {"ssl_g", points[p].ssl_g}});
    }
    common.write(out);
    if (!csv.empty()) {
      atomic_file file(csv);
      file.stream() << "point,layermem,delta_layermem\n";
      for (std::size_t p = 0; p < points.size(); ++p) {
        file.stream() << points[p].name << ',' << shortest(layermem[p]) << ',' << shortest(delta[p]) << '\n';
      }
      file.commit();
    }
  }
};

// ---- stats --------------------------------------------------------------------------------

// The ranking direction of a statistic over the top (or least) k.
struct ranked {
  std::string k;
  memloc::rank_direction direction = memloc::rank_direction::top;

  void declare(CLI::App& app, bool k_required) {
    auto* option = add_k(app, "--k", k, "how many items (K below)");
    if (k_required) option->required();
    add_choice(app, "--direction", direction, "the highest (top) or lowest (least) scores");
  }
  memloc::top_k size() const { return *k_from_text(k); }
  report options() const { return {{"k", k}, {"direction", memloc::to_string(direction)}}; }
};

struct topk_command {
  common_options common;
  ranked rank;
  std::string scores;

  void declare(CLI::App& app) {
    app.add_option("--scores", scores, "1-D scores")->required();
    rank.declare(app, true);
    common.declare(app);
  }
  void run() const {
    const auto values = read_scores("--scores", scores);
    const auto r = memloc::top_k_indices(common.exec(), view_of(values), rank.size(), rank.direction);
    for (const index_t i : r.indices) std::printf("%lld %s\n", static_cast<long long>(i), shortest(values[static_cast<std::size_t>(i)]).c_str());
    report out = report_header("stats topk");
    out["options"] = rank.options();
    out["indices"] = r.indices;
    out["nan_count"] = r.nan_count;
    common.write(out);
  }
};

struct overlap_command {
  common_options common;
  ranked rank;
  std::string a, b;

  void declare(CLI::App& app) {
    app.add_option("--a", a, "1-D scores")->required();
    app.add_option("--b", b, "1-D scores of the same items")->required();
    rank.declare(app, true);
    common.declare(app);
  }
  void run() const {
    const auto x = read_scores("--a", a), y = read_scores("--b", b);
    const auto r = memloc::top_k_overlap(common.exec(), view_of(x), view_of(y), rank.size(), rank.direction);
    std::printf("top-%lld overlap: %lld (%.4f)\n", static_cast<long long>(r.k), static_cast<long long>(r.count), r.fraction);
    report out = report_header("stats overlap");
    out["options"] = rank.options();
    out["k"] = r.k;
    out["count"] = r.count;
    out["fraction"] = r.fraction;
    common.write(out);
  }
};

struct kendall_command {
  common_options common;
  ranked rank;
  std::string x, y;
  memloc::kendall_options options;

  void declare(CLI::App& app) {
    app.add_option("--x", x, "1-D scores")->required();
    app.add_option("--y", y, "1-D scores of the same items")->required();
    rank.declare(app, false);
    add_choice(app, "--alternative", options.alternative, "the alternative hypothesis");
    common.declare(app);
  }
  void run() const {
    const auto xs = read_scores("--x", x), ys = read_scores("--y", y);
    const auto exec = common.exec();
    const auto r = rank.k.empty() ? memloc::kendall_tau_b(exec, view_of(xs), view_of(ys), options)
                                  : memloc::kendall_tau_b_top_k_union(exec, view_of(xs), view_of(ys), rank.size(), rank.direction, options);
    std::printf("Kendall tau-b %s over %lld items, p = %s (%s)\n", shortest(r.tau).c_str(), static_cast<long long>(r.n),
                shortest(r.p_value).c_str(), r.exact ? "exact" : "normal approximation");
    report out = report_header("stats kendall");
    out["options"] = rank.k.empty() ? report::object() : rank.options();
    out["options"]["alternative"] = memloc::to_string(options.alternative);
    out["tau"] = r.tau;
    out["p_value"] = r.p_value;
    out["n"] = r.n;
    out["exact"] = r.exact;
    common.write(out);
  }
};

struct ttest_command {
  common_options common;
  std::string a, b;
  bool welch = false;
  memloc::t_test_options options;

  void declare(CLI::App& app) {
    app.add_option("--a", a, "1-D scores of the first group")->required();
    app.add_option("--b", b, "1-D scores of the second group")->required();
    app.add_flag("--welch", welch, "Welch's test (unequal variances) instead of Student's");
    add_choice(app, "--alternative", options.alternative, "the alternative hypothesis");
    common.declare(app);
  }
  void run() {
    const auto xs = read_scores("--a", a), ys = read_scores("--b", b);
    options.kind = welch ? memloc::t_test_kind::welch : memloc::t_test_kind::student;
    const auto r = memloc::t_test(common.exec(), view_of(xs), view_of(ys), options);
    std::printf("%s t = %s, df = %s, p = %s\n", welch ? "Welch" : "Student", shortest(r.statistic).c_str(),
                shortest(r.df).c_str(), shortest(r.p_value).c_str());
    report out = report_header("stats ttest");
    out["options"] = {{"test", memloc::to_string(options.kind)}, {"alternative", memloc::to_string(options.alternative)}};
    out["statistic"] = r.statistic;
    out["df"] = r.df;
    out["p_value"] = r.p_value;
    common.write(out);
  }
};

// Units and samples (LOC Table 12): each unit's argmax sample and its score, and per sample
// how many of the top units point at it.
struct links_command {
  common_options common;
  std::string unitmem, argmax, scores, k = "10%";

  void declare(CLI::App& app) {
    app.add_option("--unitmem", unitmem, "UnitMem per unit")->required();
    app.add_option("--argmax", argmax, "each unit's argmax sample id (integers)")->required();
    app.add_option("--scores", scores, "a score per sample id (e.g. SSLMem)")->required();
    add_k(app, "--k", k, "the top units by UnitMem");
    common.declare(app);
  }
  void run() const {
    const auto units = read_scores("--unitmem", unitmem);
    const auto ids = read_ids("--argmax", argmax);
    const auto sample_scores = read_scores("--scores", scores);
    const auto r = memloc::units_to_samples(common.exec(), view_of(units), view_of(ids), view_of(sample_scores), *k_from_text(k));
    double top_sum = 0.0;
    for (const index_t u : r.top_units) top_sum += r.argmax_score[static_cast<std::size_t>(u)];
    std::printf("%zu top units; their argmax samples' mean score %s\n", r.top_units.size(),
                shortest(top_sum / static_cast<double>(std::max<std::size_t>(1, r.top_units.size()))).c_str());
    report out = report_header("stats links");
    out["options"] = {{"k", k}};
    out["argmax_score"] = r.argmax_score;
    out["top_units"] = r.top_units;
    out["top_unit_count"] = r.top_unit_count;
    out["nan_units"] = r.nan_units;
    common.write(out);
  }
};

// The measurement points with the highest (or lowest) LayerMem or ΔLayerMem of a report.
struct layers_command {
  common_options common;
  std::string report_file;
  bool delta = false;
  std::int64_t count = 1;
  memloc::rank_direction direction = memloc::rank_direction::top;

  void declare(CLI::App& app) {
    app.add_option("--report", report_file, "a report of memloc layermem")->required();
    app.add_flag("--delta", delta, "rank by ΔLayerMem instead of LayerMem");
    add_integer(app, "--count", count, 1, "how many points")->capture_default_str();
    add_choice(app, "--direction", direction, "the highest (top) or lowest (least) values");
    common.declare(app);
  }
  void run() const {
    std::vector<std::string> names;
    std::vector<double> values;
    try {
      const nlohmann::json root = read_json(report_file);
      const auto points = root.is_object() ? root.find("points") : root.end();
      if (!root.is_object() || points == root.end() || !points->is_array()) {
        throw json_error(report_file + ": not a layermem report (no \"points\")");
      }
      for (const auto& point : *points) {
        const auto name = point.is_object() ? point.find("name") : point.end();
        const auto value = point.is_object() ? point.find(delta ? "delta_layermem" : "layermem") : point.end();
        if (name == point.end() || value == point.end() || !name->is_string()) {
          throw json_error(report_file + ": a point lacks its name or value");
        }
        names.push_back(name->get<std::string>());
        values.push_back(value->is_number() ? value->get<double>() : std::nan(""));
      }
    } catch (const json_error& e) {
      throw usage_error(std::string("--report ") + e.what());
    }
    const auto r = memloc::select_layers(common.exec(), names, view_of(values), count, direction);
    for (const auto& name : r.names) std::printf("%s\n", name.c_str());
    report out = report_header("stats layers");
    out["options"] = {{"delta", delta}, {"count", count}, {"direction", memloc::to_string(direction)}};
    out["points"] = r.points;
    out["names"] = r.names;
    common.write(out);
  }
};

// ---- prune --------------------------------------------------------------------------------

struct prune_command {
  common_options common;
  std::vector<std::vector<std::string>> layer_files;
  std::string amount = "10%";
  std::int64_t seed = 0;
  memloc::pruning_options options;

  void declare(CLI::App& app) {
    app.add_option("--layer", layer_files, "a layer: its name and its UnitMem scores")
        ->type_size(2)
        ->allow_extra_args(false)
        ->type_name("NAME UNITMEM")
        ->required();
    add_choice(app, "--select", options.selection, "which units: highest UnitMem, lowest, or random");
    add_k(app, "--amount", amount, "how many units (K below)");
    add_choice(app, "--scope", options.scope, "the amount per layer, or over all layers together");
    add_integer(app, "--seed", seed, 0, "seed of --select random")->capture_default_str();
    common.declare(app);
  }
  void run() {
    options.amount = *k_from_text(amount);
    options.seed = static_cast<std::uint64_t>(seed);
    std::vector<std::vector<double>> values;
    for (const auto& files : layer_files) values.push_back(read_scores("--layer", files[1]));
    std::vector<memloc::named_scores<const double>> layers;
    for (std::size_t l = 0; l < layer_files.size(); ++l) layers.push_back({layer_files[l][0], view_of(values[l])});
    const auto masks = memloc::pruning_masks(common.exec(), layers, options);
    report out = report_header("prune");
    out["options"] = {{"select", memloc::to_string(options.selection)},
                      {"amount", amount},
                      {"scope", memloc::to_string(options.scope)},
                      {"seed", seed}};
    report& listed = out["layers"] = report::array();
    for (std::size_t l = 0; l < masks.names.size(); ++l) {
      std::printf("%s: %zu units selected\n", masks.names[l].c_str(), masks.units[l].size());
      listed.push_back({{"name", masks.names[l]},
                        {"units", masks.units[l]},
                        {"mask", masks.pruned[l]},
                        {"nan_units", masks.nan_units[l]}});
    }
    common.write(out);
  }
};

// ---- plot ---------------------------------------------------------------------------------

// Figures are drawn by memloc_plot.py with matplotlib, found beside the executable (build
// tree) or in ../share/memloc (install tree); this process becomes the script, which parses
// its own arguments.
struct plot_command {
  std::vector<std::string> words;

  void declare(CLI::App& app) { app.prefix_command(); }
  void run(const CLI::App& app) const {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    std::string script;
    for (const auto& candidate : {self.parent_path() / "memloc_plot.py", self.parent_path() / ".." / "share" / "memloc" / "memloc_plot.py"}) {
      if (!ec && std::filesystem::exists(candidate)) {
        script = candidate.string();
        break;
      }
    }
    if (script.empty()) throw std::runtime_error("memloc_plot.py is not installed beside the memloc command");
    std::vector<std::string> command{"python3", script};
    for (const auto& word : app.remaining()) command.push_back(word);
    std::vector<char*> argv;
    for (auto& word : command) argv.push_back(word.data());
    argv.push_back(nullptr);
    std::fflush(stdout);
    // Debian's interpreter first: python3-matplotlib is installed for it, and a python3
    // earlier on PATH (a virtual environment, pyenv) may lack matplotlib.
    ::execv("/usr/bin/python3", argv.data());
    ::execvp("python3", argv.data());
    throw std::runtime_error("cannot run python3 for the figures");
  }
};

// ---- the table of subcommands --------------------------------------------------------------

// Adds subcommand `name` to `parent`: Command declares its options, and runs once parsing
// has succeeded.
template <class Command>
void attach(CLI::App& parent, const char* name, const char* summary) {
  auto command = std::make_shared<Command>();
  CLI::App* app = parent.add_subcommand(name, summary);
  command->declare(*app);
  if constexpr (std::is_same_v<Command, plot_command>) {
    app->callback([command, app] { command->run(*app); });
  } else {
    app->callback([command] { command->run(); });
  }
}

struct subcommand {
  const char* name;
  const char* summary;
  void (*add)(CLI::App&, const char*, const char*);
};

const subcommand statistics[] = {
    {"topk", "the top (or least) k items by score", attach<topk_command>},
    {"overlap", "how many of the top k items two scorings share", attach<overlap_command>},
    {"kendall", "Kendall's tau-b between two scorings (on the top-k union with --k)", attach<kendall_command>},
    {"ttest", "Student's or Welch's two-sample t-test", attach<ttest_command>},
    {"links", "units and samples: each top unit's argmax sample and its score (LOC Table 12)", attach<links_command>},
    {"layers", "the measurement points with the highest or lowest LayerMem or ΔLayerMem", attach<layers_command>},
};

void attach_stats(CLI::App& parent, const char* name, const char* summary) {
  CLI::App* stats = parent.add_subcommand(name, summary);
  stats->require_subcommand(0, 1);
  for (const auto& s : statistics) s.add(*stats, s.name, s.summary);
  stats->callback([stats] {
    if (stats->get_subcommands().empty()) throw usage_error("stats needs a statistic: topk, overlap, kendall, ttest, links or layers");
  });
}

const subcommand subcommands[] = {
    {"unitmem", "UnitMem (and ClassMem with --labels) of every unit of a layer", attach<unitmem_command>},
    {"layermem", "LayerMem and ΔLayerMem over measurement points, with each sample's SSLMem", attach<layermem_command>},
    {"stats", "rankings and tests over 1-D scores", attach_stats},
    {"prune", "units to prune by UnitMem", attach<prune_command>},
    {"plot", "PNG and SVG figures from reports (needs matplotlib): plot REPORT.json ... --out DIR", attach<plot_command>},
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"memloc: where a vision encoder memorizes, from activation dumps (.npy)", "memloc"};
  app.footer(footer_text);
  app.require_subcommand(0, 1);
  for (const auto& s : subcommands) s.add(app, s.name, s.summary);
  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) {
      std::fputs(app.help().c_str(), stderr);
      return 2;
    }
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help
    std::fprintf(stderr, "memloc: %s\nRun memloc --help (or memloc SUBCOMMAND --help) for the options.\n", e.what());
    return 2;
  } catch (const usage_error& e) {
    std::fprintf(stderr, "memloc: %s\n", e.what());
    return 2;
  } catch (const memloc::error& e) {
    // Bad input files and arguments the library rejects.
    std::fprintf(stderr, "memloc: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "memloc: %s\n", e.what());
    return 1;
  }
}
