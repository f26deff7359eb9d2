// The memloc command: memorization metrics from activation dumps (.npy), streamed in chunks
// so files larger than memory are handled with bounded memory.
//
//   memloc unitmem  --acts FILE|DIR|GLOB --layout LAYOUT [--reduce mean|median]
//                   [--transform none|relu|abs] [--labels L.npy [--classes C]] [--ids I.npy] [--bf16]
//                   [--json OUT] [--csv OUT] [--threads N]
//   memloc layermem --point NAME F G [--point ...] [--distance l2|l2_normalized|l1|cosine|angular]
//                   [--pairs all|original] [--normalize ratio|range|max|none] [--clamp]
//                   [--subset all|random:K|top:K|least:K] [--seed S] [--json OUT] [--csv OUT]
//   memloc stats topk|overlap|kendall|ttest ...   rankings and tests over 1-D score files
//   memloc prune --layer NAME UNITMEM.npy ...     units to prune by UnitMem
//   memloc plot REPORT.json ... --out DIR         figures (memloc_plot.py, matplotlib)
//
// Exit status: 0 on success, 2 on bad input (arguments or files), 1 on any other failure.
// Output files are written whole or not at all.

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <filesystem>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <memloc/analysis.hpp>
#include <memloc/memloc.hpp>

#include "arguments.hpp"
#include "device.hpp"
#include "folds.hpp"
#include "atomic_file.hpp"
#include "json_reader.hpp"
#include "json_writer.hpp"
#include "layout.hpp"
#include "npy.hpp"

namespace {

using memloc::index_t;
using namespace memloc::cli;

constexpr const char* usage_text =
    "usage: memloc unitmem  --acts FILE|DIR|GLOB --layout LAYOUT [--reduce mean|median]\n"
    "                       [--transform none|relu|abs] [--labels L.npy [--classes C]] [--ids I.npy] [--bf16]\n"
    "                       [--json OUT] [--csv OUT] [--threads N] [--device cpu|cuda]\n"
    "       memloc layermem --point NAME F G [--point ...] [--distance l2|l2_normalized|l1|cosine|angular]\n"
    "                       [--pairs all|original] [--normalize ratio|range|max|none] [--clamp]\n"
    "                       [--subset all|random:K|top:K|least:K] [--seed S] [--json OUT] [--csv OUT]\n"
    "                       [--threads N] [--device cpu|cuda]\n"
    "       memloc stats topk --scores S.npy --k K [--direction top|least] [--json OUT]\n"
    "       memloc stats overlap --a A.npy --b B.npy --k K [--direction top|least] [--json OUT]\n"
    "       memloc stats kendall --x X.npy --y Y.npy [--k K] [--alternative two-sided|greater|less] [--json OUT]\n"
    "       memloc stats ttest --a A.npy --b B.npy [--welch] [--alternative two-sided|greater|less] [--json OUT]\n"
    "       memloc stats links --unitmem U --argmax A --scores S [--k K] [--json OUT]     (units and samples)\n"
    "       memloc stats layers --report LAYERS.json [--delta] [--count N] [--direction top|least]\n"
    "       memloc prune --layer NAME UNITMEM.npy [--layer ...] [--select top|low|random] [--amount K]\n"
    "                    [--scope per_layer|total] [--seed S] [--json OUT]\n"
    "       memloc plot REPORT.json [REPORT.json ...] --out DIR     (PNG and SVG figures; needs matplotlib)\n"
    "K is a count (100) or a percentage (1%).\n"
    "LAYOUT names the file's axes: n samples, v views, u units, s positions (or h w), e.g. nvus, vnus,\n"
    "nvsu, nvuhw, nvhwu, nvu. See docs/cli.md.\n";

// A file, a directory of per-batch files, or a glob of them, read as one stream.
memloc::npy::npy_stream open_stream(const std::string& where, const memloc::npy::open_options& options = {}) {
  if (where.find_first_of("*?[") != std::string::npos) return memloc::npy::npy_stream::from_glob(where, options);
  std::error_code ec;
  if (std::filesystem::is_directory(where, ec)) return memloc::npy::npy_stream::from_directory(where, options);
  return memloc::npy::npy_stream({where}, options);
}

// A 1-D integer file (sample ids, labels) of `expected` entries, read whole: it holds one
// integer per sample, small beside the activations.
std::vector<std::int64_t> read_integers(const std::string& option, const std::string& path, index_t expected) {
  memloc::npy::open_options options;
  options.integers = true;
  const auto stream = open_stream(path, options);
  if (stream.shape().size() != 1 || stream.rows() != expected) {
    throw usage_error("--" + option + " " + path + " must hold " + std::to_string(expected) +
                      " integers (one per sample), got shape of rank " + std::to_string(stream.shape().size()) + " and " +
                      std::to_string(stream.rows()) + " entries");
  }
  if (!memloc::npy::is_integer(stream.type())) {
    throw usage_error("--" + option + " " + path + " must hold integers, got " + memloc::npy::to_string(stream.type()));
  }
  std::vector<std::int64_t> values(static_cast<std::size_t>(expected));
  stream.read_rows(0, expected, values.data());
  return values;
}

memloc::host_exec exec_from(const arguments& args) {
  return memloc::host_exec{static_cast<int>(parse_integer("threads", args.get("threads", "0"), 0))};
}

// --device cpu (the default) or cuda; cuda needs a build with the CUDA backend and a GPU.
bool on_device(const arguments& args) {
  const bool cuda = parse_choice<bool>("device", args.get("device", "cpu"), {{"cpu", false}, {"cuda", true}});
  if (cuda) {
    const std::string problem = cuda_problem();
    if (!problem.empty()) throw memloc::logic_error("--device cuda: " + problem);
  }
  return cuda;
}

void write_header(json_writer& json, const char* command) {
  json.member("memloc_version", memloc::version_string());
  json.member("command", command);
}

// ---- unitmem ------------------------------------------------------------------------------

int run_unitmem(const std::vector<std::string>& words) {
  const arguments args(words, {{"acts"}, {"layout"}, {"reduce"}, {"transform"}, {"labels"}, {"classes"}, {"ids"},
                               {"bf16", 0}, {"json"}, {"csv"}, {"threads"}, {"device"}, {"chunk-rows"}});
  if (!args.positional().empty()) throw usage_error("unexpected argument \"" + args.positional().front() + "\"");
  const memloc::host_exec exec = exec_from(args);
  const bool cuda = on_device(args);
  memloc::unitmem_options options;
  options.rest = parse_choice<memloc::rest_reduction>(
      "reduce", args.get("reduce", "mean"), {{"mean", memloc::rest_reduction::mean}, {"median", memloc::rest_reduction::median}});
  options.transform = parse_choice<memloc::activation_transform>("transform", args.get("transform", "none"),
                                                                 {{"none", memloc::activation_transform::none},
                                                                  {"relu", memloc::activation_transform::relu},
                                                                  {"abs", memloc::activation_transform::abs}});
  memloc::npy::open_options open;
  open.uint16_as_bfloat16 = args.has("bf16");
  const auto acts = open_stream(args.required("acts"), open);
  const activation_layout layout = parse_layout(args.required("layout"), acts.shape());
  sample_info samples;
  if (args.has("ids")) {
    samples.ids = read_integers("ids", args.get("ids"), layout.samples);
    for (const auto id : samples.ids) {
      if (id < 0) throw usage_error("--ids " + args.get("ids") + " must hold non-negative ids, got " + std::to_string(id));
      samples.id_space = std::max<index_t>(samples.id_space, id + 1);
    }
  } else {
    samples.ids.resize(static_cast<std::size_t>(layout.samples));
    std::iota(samples.ids.begin(), samples.ids.end(), std::int64_t{0});
    samples.id_space = layout.samples;
  }
  if (args.has("classes") && !args.has("labels")) throw usage_error("--classes needs --labels");
  if (args.has("labels")) {
    if (layout.view_major) {
      throw usage_error("--labels needs a layout whose first axis is n (ClassMem folds all views of a sample together)");
    }
    samples.labels = read_integers("labels", args.get("labels"), layout.samples);
    index_t largest = -1;
    for (const auto label : samples.labels) largest = std::max<index_t>(largest, label);
    samples.classes = args.has("classes") ? parse_integer("classes", args.get("classes"), 2) : largest + 1;
  }
  host_memory host{exec};
  const bool f64 = acts.type() == memloc::npy::dtype::f64;
  const index_t rows = parse_integer("chunk-rows", args.get("chunk-rows", "0"), 0);
  const unitmem_result r = cuda ? fold_unitmem_on_device(acts, layout, options, samples)
                           : f64 ? fold_unitmem<double>(acts, layout, host, options, samples, rows)
                                 : fold_unitmem<float>(acts, layout, host, options, samples, rows);
  std::printf("UnitMem of %lld units over %lld samples (%lld views, %lld positions): mean %.6g, max %.6g, NaN units %lld\n",
              static_cast<long long>(layout.units), static_cast<long long>(r.report.samples),
              static_cast<long long>(layout.views), static_cast<long long>(layout.positions),
              std::accumulate(r.unitmem.begin(), r.unitmem.end(), 0.0) / static_cast<double>(r.unitmem.size()),
              *std::max_element(r.unitmem.begin(), r.unitmem.end()), static_cast<long long>(r.report.nan_units));
  if (r.has_classes) {
    std::printf("ClassMem over %lld classes with samples: mean %.6g, NaN units %lld\n",
                static_cast<long long>(r.class_report.classes_with_samples),
                std::accumulate(r.classmem.begin(), r.classmem.end(), 0.0) / static_cast<double>(r.classmem.size()),
                static_cast<long long>(r.class_report.nan_units));
  }
  if (args.has("json")) {
    atomic_file file(args.get("json"));
    json_writer json(file.stream());
    json.begin_object();
    write_header(json, "unitmem");
    json.key("options");
    json.begin_object();
    json.member("acts", args.get("acts"));
    json.member("layout", layout.letters);
    json.member("reduce", memloc::to_string(options.rest));
    json.member("transform", memloc::to_string(options.transform));
    json.end_object();
    json.member("samples", r.report.samples);
    json.member("units", r.report.units);
    json.member("views", layout.views);
    json.member("positions", layout.positions);
    json.member("nan_units", r.report.nan_units);
    json.member("negative_denominator_units", r.report.negative_denominator_units);
    json.member("unitmem", r.unitmem);
    json.member("mu_max", r.mu_max);
    json.member("argmax", r.argmax);
    json.member("mu_rest", r.mu_rest);
    if (r.has_classes) {
      json.member("classes", samples.classes);
      json.member("classes_with_samples", r.class_report.classes_with_samples);
      json.member("classmem", r.classmem);
      json.member("class_mu_max", r.class_mu_max);
      json.member("max_class", r.max_class);
      json.member("class_mu_rest", r.class_mu_rest);
    }
    json.end_object();
    file.commit();
  }
  if (args.has("csv")) {
    atomic_file file(args.get("csv"));
    file.stream() << "unit,unitmem,mu_max,argmax,mu_rest" << (r.has_classes ? ",classmem,max_class" : "") << '\n';
    for (std::size_t u = 0; u < r.unitmem.size(); ++u) {
      file.stream() << u << ',' << shortest(r.unitmem[u]) << ',' << shortest(r.mu_max[u]) << ',' << r.argmax[u] << ','
                    << shortest(r.mu_rest[u]);
      if (r.has_classes) file.stream() << ',' << shortest(r.classmem[u]) << ',' << r.max_class[u];
      file.stream() << '\n';
    }
    file.commit();
  }
  return 0;
}

// ---- layermem ----------------------------------------------------------------------------

memloc::sample_subset parse_subset(const std::string& text, std::uint64_t seed) {
  memloc::sample_subset subset;
  subset.seed = seed;
  if (text == "all") return subset;
  const auto colon = text.find(':');
  const std::string kind = text.substr(0, colon);
  subset.kind = parse_choice<memloc::subset_kind>(
      "subset", kind, {{"random", memloc::subset_kind::random}, {"top", memloc::subset_kind::top}, {"least", memloc::subset_kind::least}});
  if (colon == std::string::npos) throw usage_error("--subset " + kind + " needs a size, as in " + kind + ":100");
  subset.k = parse_integer("subset", text.substr(colon + 1), 1);
  return subset;
}

int run_layermem(const std::vector<std::string>& words) {
  const arguments args(words, {{"point", 3, true}, {"distance"}, {"pairs"}, {"normalize"}, {"clamp", 0}, {"subset"},
                               {"seed"}, {"json"}, {"csv"}, {"threads"}, {"device"}, {"chunk-rows"}});
  if (!args.positional().empty()) throw usage_error("unexpected argument \"" + args.positional().front() + "\"");
  if (!args.has("point")) throw usage_error("--point NAME F G is required (once per measurement point)");
  const memloc::host_exec exec = exec_from(args);
  const bool cuda = on_device(args);
  memloc::alignment_options alignment;
  alignment.distance = parse_choice<memloc::distance_kind>("distance", args.get("distance", "l2"),
                                                           {{"l2", memloc::distance_kind::l2},
                                                            {"l2_normalized", memloc::distance_kind::l2_normalized},
                                                            {"l1", memloc::distance_kind::l1},
                                                            {"cosine", memloc::distance_kind::cosine},
                                                            {"angular", memloc::distance_kind::angular}});
  alignment.pairs = parse_choice<memloc::pair_mode>(
      "pairs", args.get("pairs", "all"), {{"all", memloc::pair_mode::all_pairs}, {"original", memloc::pair_mode::original_vs_views}});
  memloc::layermem_options options;
  options.score.normalization = parse_choice<memloc::sslmem_normalization>("normalize", args.get("normalize", "ratio"),
                                                                           {{"ratio", memloc::sslmem_normalization::ratio},
                                                                            {"range", memloc::sslmem_normalization::range},
                                                                            {"max", memloc::sslmem_normalization::max},
                                                                            {"none", memloc::sslmem_normalization::none}});
  options.score.clamp01 = args.has("clamp");
  options.subset = parse_subset(args.get("subset", "all"),
                                static_cast<std::uint64_t>(parse_integer("seed", args.get("seed", "0"), 0)));

  std::vector<point_result> points;
  for (const auto& spec : args.all("point")) {
    point_result point;
    point.name = spec[0];
    const auto f = open_stream(spec[1]);
    const auto g = open_stream(spec[2]);
    if (f.shape().size() < 3) {
      throw usage_error("--point " + point.name + ": " + spec[1] + " must be [samples, views, features...], got rank " +
                        std::to_string(f.shape().size()));
    }
    if (f.shape() != g.shape()) throw usage_error("--point " + point.name + ": " + spec[2] + " must have the shape of " + spec[1]);
    host_memory host{exec};
    const index_t rows = parse_integer("chunk-rows", args.get("chunk-rows", "0"), 0);
    if (cuda) {
      fold_alignment_on_device(f, g, alignment, point);
    } else if (f.type() == memloc::npy::dtype::f64) {
      fold_alignment<double>(f, g, host, alignment, point, rows);
    } else {
      fold_alignment<float>(f, g, host, alignment, point, rows);
    }
    points.push_back(std::move(point));
  }
  const auto samples = static_cast<index_t>(points.front().ssl_f.size());
  std::vector<memloc::measurement_point<>> measured;
  for (auto& p : points) {
    p.scores.resize(p.ssl_f.size());
    memloc::sslmem(exec, memloc::make_vector_view(static_cast<const double*>(p.ssl_f.data()), static_cast<index_t>(p.ssl_f.size())),
                   memloc::make_vector_view(static_cast<const double*>(p.ssl_g.data()), static_cast<index_t>(p.ssl_g.size())),
                   memloc::make_vector_view(p.scores.data(), static_cast<index_t>(p.scores.size())), options.score);
    measured.push_back({p.name, memloc::make_vector_view(static_cast<const double*>(p.ssl_f.data()), static_cast<index_t>(p.ssl_f.size())),
                        memloc::make_vector_view(static_cast<const double*>(p.ssl_g.data()), static_cast<index_t>(p.ssl_g.size()))});
  }
  const auto count = static_cast<index_t>(points.size());
  std::vector<double> layermem(static_cast<std::size_t>(count)), delta(static_cast<std::size_t>(count));
  std::vector<std::int64_t> subset(static_cast<std::size_t>(memloc::layermem_subset_size(options.subset, samples)));
  memloc::layermem(exec, measured, memloc::make_vector_view(layermem.data(), count), memloc::make_vector_view(delta.data(), count),
                   memloc::make_vector_view(subset.data(), static_cast<index_t>(subset.size())), options);
  std::printf("%-16s %12s %12s\n", "point", "LayerMem", "ΔLayerMem");
  for (index_t p = 0; p < count; ++p) {
    std::printf("%-16s %12.6f %12.6f\n", points[static_cast<std::size_t>(p)].name.c_str(), layermem[static_cast<std::size_t>(p)],
                delta[static_cast<std::size_t>(p)]);
  }
  if (args.has("json")) {
    atomic_file file(args.get("json"));
    json_writer json(file.stream());
    json.begin_object();
    write_header(json, "layermem");
    json.key("options");
    json.begin_object();
    json.member("distance", memloc::to_string(alignment.distance));
    json.member("pairs", memloc::to_string(alignment.pairs));
    json.member("normalize", memloc::to_string(options.score.normalization));
    json.member("clamp", options.score.clamp01);
    json.member("subset", memloc::to_string(options.subset.kind));
    json.member("subset_size", static_cast<index_t>(subset.size()));
    json.member("seed", static_cast<std::int64_t>(options.subset.seed));
    json.end_object();
    json.member("samples", samples);
    json.member("subset", subset);
    json.key("points");
    json.begin_array();
    for (index_t p = 0; p < count; ++p) {
      const auto& point = points[static_cast<std::size_t>(p)];
      json.begin_object();
      json.member("name", point.name);
      json.member("layermem", layermem[static_cast<std::size_t>(p)]);
      json.member("delta_layermem", delta[static_cast<std::size_t>(p)]);
      json.member("sslmem", point.scores);
      json.member("ssl_f", point.ssl_f);
      json.member("ssl_g", point.ssl_g);
      json.end_object();
    }
    json.end_array();
    json.end_object();
    file.commit();
  }
  if (args.has("csv")) {
    atomic_file file(args.get("csv"));
    file.stream() << "point,layermem,delta_layermem\n";
    for (index_t p = 0; p < count; ++p) {
      file.stream() << points[static_cast<std::size_t>(p)].name << ',' << shortest(layermem[static_cast<std::size_t>(p)]) << ','
                    << shortest(delta[static_cast<std::size_t>(p)]) << '\n';
    }
    file.commit();
  }
  return 0;
}

// ---- stats and prune ------------------------------------------------------------------------

// Scores from a 1-D .npy file (float or double), or from a report of this command as
// FILE.json:PATH (e.g. conv3.json:unitmem, layers.json:points/conv2/sslmem).
std::vector<double> read_scores(const std::string& option, const std::string& path) {
  const auto json_at = path.find(".json:");
  if (json_at != std::string::npos) {
    try {
      return json_numbers(path.substr(0, json_at + 5), path.substr(json_at + 6));
    } catch (const json_error& e) {
      throw usage_error("--" + option + " " + e.what());
    }
  }
  const auto stream = open_stream(path);
  if (stream.shape().size() != 1) {
    throw usage_error("--" + option + " " + path + " must hold a 1-D array of scores, got rank " +
                      std::to_string(stream.shape().size()));
  }
  std::vector<double> values(static_cast<std::size_t>(stream.rows()));
  stream.read_rows(0, stream.rows(), values.data());
  return values;
}

memloc::vector_view<const double> view_of(const std::vector<double>& v) {
  return memloc::make_vector_view(v.data(), static_cast<index_t>(v.size()));
}

// "100" is a count, "1%" or "0.5%" a fraction of the items.
memloc::top_k parse_k(const std::string& option, const std::string& text) {
  if (!text.empty() && text.back() == '%') {
    std::size_t used = 0;
    double percent = 0.0;
    try {
      percent = std::stod(text.substr(0, text.size() - 1), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size() - 1) throw usage_error("--" + option + " must be a count or a percentage, got \"" + text + "\"");
    return memloc::top_fraction(percent / 100.0);
  }
  return memloc::top_count(parse_integer(option, text, 1));
}

memloc::rank_direction parse_direction(const arguments& args) {
  return parse_choice<memloc::rank_direction>("direction", args.get("direction", "top"),
                                              {{"top", memloc::rank_direction::top}, {"least", memloc::rank_direction::least}});
}

memloc::alternative parse_alternative(const arguments& args) {
  return parse_choice<memloc::alternative>("alternative", args.get("alternative", "two-sided"),
                                           {{"two-sided", memloc::alternative::two_sided},
                                            {"greater", memloc::alternative::greater},
                                            {"less", memloc::alternative::less}});
}

// Writes the JSON report of a statistic (if asked) after `body` fills in its members.
template <class Body>
void write_stats_json(const arguments& args, const char* command, Body&& body) {
  if (!args.has("json")) return;
  atomic_file file(args.get("json"));
  json_writer json(file.stream());
  json.begin_object();
  write_header(json, command);
  body(json);
  json.end_object();
  file.commit();
}

int run_stats(const std::vector<std::string>& words) {
  if (words.empty()) throw usage_error("stats needs a statistic: topk, overlap, kendall or ttest");
  const std::string which = words[0];
  const std::vector<std::string> rest(words.begin() + 1, words.end());
  const arguments args(rest, {{"scores"}, {"a"}, {"b"}, {"x"}, {"y"}, {"k"}, {"direction"}, {"alternative"},
                              {"welch", 0}, {"json"}, {"threads"}, {"unitmem"}, {"argmax"}, {"report"}, {"delta", 0},
                              {"count"}});
  if (!args.positional().empty()) throw usage_error("unexpected argument \"" + args.positional().front() + "\"");
  const memloc::host_exec exec = exec_from(args);
  if (which == "topk") {
    const auto scores = read_scores("scores", args.required("scores"));
    const auto r = memloc::top_k_indices(exec, view_of(scores), parse_k("k", args.required("k")), parse_direction(args));
    for (const index_t i : r.indices) std::printf("%lld %s\n", static_cast<long long>(i), shortest(scores[static_cast<std::size_t>(i)]).c_str());
    write_stats_json(args, "stats topk", [&](json_writer& json) {
      json.member("indices", r.indices);
      json.member("nan_count", r.nan_count);
    });
  } else if (which == "overlap") {
    const auto a = read_scores("a", args.required("a")), b = read_scores("b", args.required("b"));
    const auto r = memloc::top_k_overlap(exec, view_of(a), view_of(b), parse_k("k", args.required("k")), parse_direction(args));
    std::printf("top-%lld overlap: %lld (%.4f)\n", static_cast<long long>(r.k), static_cast<long long>(r.count), r.fraction);
    write_stats_json(args, "stats overlap", [&](json_writer& json) {
      json.member("k", r.k);
      json.member("count", r.count);
      json.member("fraction", r.fraction);
    });
  } else if (which == "kendall") {
    const auto x = read_scores("x", args.required("x")), y = read_scores("y", args.required("y"));
    memloc::kendall_options options;
    options.alternative = parse_alternative(args);
    const auto r = args.has("k") ? memloc::kendall_tau_b_top_k_union(exec, view_of(x), view_of(y), parse_k("k", args.get("k")),
                                                                      parse_direction(args), options)
                                 : memloc::kendall_tau_b(exec, view_of(x), view_of(y), options);
    std::printf("Kendall tau-b %s over %lld items, p = %s (%s)\n", shortest(r.tau).c_str(), static_cast<long long>(r.n),
                shortest(r.p_value).c_str(), r.exact ? "exact" : "normal approximation");
    write_stats_json(args, "stats kendall", [&](json_writer& json) {
      json.member("tau", r.tau);
      json.member("p_value", r.p_value);
      json.member("n", r.n);
      json.member("exact", r.exact);
    });
  } else if (which == "ttest") {
    const auto a = read_scores("a", args.required("a")), b = read_scores("b", args.required("b"));
    memloc::t_test_options options;
    options.kind = args.has("welch") ? memloc::t_test_kind::welch : memloc::t_test_kind::student;
    options.alternative = parse_alternative(args);
    const auto r = memloc::t_test(exec, view_of(a), view_of(b), options);
    std::printf("%s t = %s, df = %s, p = %s\n", args.has("welch") ? "Welch" : "Student", shortest(r.statistic).c_str(),
                shortest(r.df).c_str(), shortest(r.p_value).c_str());
    write_stats_json(args, "stats ttest", [&](json_writer& json) {
      json.member("statistic", r.statistic);
      json.member("df", r.df);
      json.member("p_value", r.p_value);
    });
  } else if (which == "links") {
    // Units and samples (LOC Table 12): each unit's argmax sample and its score, and per
    // sample how many of the top units point at it.
    const auto unitmem = read_scores("unitmem", args.required("unitmem"));
    const auto argmax_values = read_scores("argmax", args.required("argmax"));
    const auto scores = read_scores("scores", args.required("scores"));
    std::vector<std::int64_t> argmax;
    for (const double a : argmax_values) {
      if (!(a >= 0.0) || a != std::floor(a)) throw usage_error("--argmax must hold sample ids (non-negative integers)");
      argmax.push_back(static_cast<std::int64_t>(a));
    }
    const auto r = memloc::units_to_samples(exec, view_of(unitmem), memloc::make_vector_view(argmax.data(), static_cast<index_t>(argmax.size())),
                                            view_of(scores), parse_k("k", args.get("k", "10%")));
    std::printf("%zu top units; their argmax samples' mean score %s\n", r.top_units.size(),
                shortest(std::accumulate(r.top_units.begin(), r.top_units.end(), 0.0,
                                         [&](double sum, index_t u) { return sum + r.argmax_score[static_cast<std::size_t>(u)]; }) /
                         static_cast<double>(std::max<std::size_t>(1, r.top_units.size()))).c_str());
    write_stats_json(args, "stats links", [&](json_writer& json) {
      json.member("argmax_score", r.argmax_score);
      json.member("top_units", r.top_units);
      json.member("top_unit_count", r.top_unit_count);
      json.member("nan_units", r.nan_units);
    });
  } else if (which == "layers") {
    // The measurement points with the highest (or lowest) LayerMem or ΔLayerMem of a report.
    const std::string report = args.required("report");
    const bool delta = args.has("delta");
    std::vector<std::string> names;
    std::vector<double> values;
    try {
      std::ifstream in(report, std::ios::binary);
      if (!in) throw json_error(report + ": cannot open");
      std::ostringstream text;
      text << in.rdbuf();
      const json_value root = json_parser(text.str(), report).parse();
      const json_value* points = root.member("points");
      if (!points || points->type != json_value::kind::array) throw json_error(report + ": not a layermem report (no \"points\")");
      for (const auto& point : points->items) {
        const json_value* name = point.member("name");
        const json_value* value = point.member(delta ? "delta_layermem" : "layermem");
        if (!name || !value) throw json_error(report + ": a point lacks its name or value");
        names.push_back(name->text);
        values.push_back(value->type == json_value::kind::number ? value->number : std::nan(""));
      }
    } catch (const json_error& e) {
      throw usage_error(std::string("--report ") + e.what());
    }
    const auto r = memloc::select_layers(exec, names, view_of(values), parse_integer("count", args.get("count", "1"), 1),
                                         parse_direction(args));
    for (std::size_t i = 0; i < r.names.size(); ++i) std::printf("%s\n", r.names[i].c_str());
    write_stats_json(args, "stats layers", [&](json_writer& json) {
      json.member("points", r.points);
      json.member("names", r.names);
    });
  } else {
    throw usage_error("unknown statistic \"" + which + "\" (topk, overlap, kendall, ttest, links or layers)");
  }
  return 0;
}

int run_prune(const std::vector<std::string>& words) {
  const arguments args(words, {{"layer", 2, true}, {"select"}, {"amount"}, {"scope"}, {"seed"}, {"json"}, {"threads"}});
  if (!args.positional().empty()) throw usage_error("unexpected argument \"" + args.positional().front() + "\"");
  if (!args.has("layer")) throw usage_error("--layer NAME UNITMEM.npy is required (once per layer)");
  const memloc::host_exec exec = exec_from(args);
  memloc::pruning_options options;
  options.selection = parse_choice<memloc::prune_selection>("select", args.get("select", "top"),
                                                            {{"top", memloc::prune_selection::top},
                                                             {"low", memloc::prune_selection::low},
                                                             {"random", memloc::prune_selection::random}});
  options.scope = parse_choice<memloc::prune_scope>(
      "scope", args.get("scope", "per_layer"), {{"per_layer", memloc::prune_scope::per_layer}, {"total", memloc::prune_scope::total}});
  options.amount = parse_k("amount", args.get("amount", "10%"));
  options.seed = static_cast<std::uint64_t>(parse_integer("seed", args.get("seed", "0"), 0));
  std::vector<std::vector<double>> values;
  std::vector<memloc::named_scores<const double>> layers;
  for (const auto& spec : args.all("layer")) values.push_back(read_scores("layer", spec[1]));
  const auto specs = args.all("layer");
  for (std::size_t l = 0; l < specs.size(); ++l) layers.push_back({specs[l][0], view_of(values[l])});
  const auto masks = memloc::pruning_masks(exec, layers, options);
  for (std::size_t l = 0; l < masks.names.size(); ++l) {
    std::printf("%s: %zu units selected\n", masks.names[l].c_str(), masks.units[l].size());
  }
  write_stats_json(args, "prune", [&](json_writer& json) {
    json.key("layers");
    json.begin_array();
    for (std::size_t l = 0; l < masks.names.size(); ++l) {
      json.begin_object();
      json.member("name", masks.names[l]);
      json.member("units", masks.units[l]);
      json.member("mask", masks.pruned[l]);
      json.member("nan_units", masks.nan_units[l]);
      json.end_object();
    }
    json.end_array();
  });
  return 0;
}

// ---- plot ---------------------------------------------------------------------------------

// Figures are drawn by memloc_plot.py with matplotlib, found beside the executable (build
// tree) or in ../share/memloc (install tree); this process becomes the script.
int run_plot(const std::vector<std::string>& words) {
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
  command.insert(command.end(), words.begin(), words.end());
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

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> words(argv + 1, argv + argc);
  if (words.empty() || words[0] == "--help" || words[0] == "-h") {
    std::fputs(usage_text, words.empty() ? stderr : stdout);
    return words.empty() ? 2 : 0;
  }
  const std::vector<std::string> rest(words.begin() + 1, words.end());
  try {
    if (words[0] == "unitmem") return run_unitmem(rest);
    if (words[0] == "layermem") return run_layermem(rest);
    if (words[0] == "stats") return run_stats(rest);
    if (words[0] == "prune") return run_prune(rest);
    if (words[0] == "plot") return run_plot(rest);
    throw usage_error("unknown subcommand \"" + words[0] + "\"");
  } catch (const usage_error& e) {
    std::fprintf(stderr, "memloc: %s\n%s", e.what(), usage_text);
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
