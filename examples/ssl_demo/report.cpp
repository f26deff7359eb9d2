#include "report.hpp"

#include <cmath>
#include <cstdio>
#include <string>

#include "cli/report.hpp"

namespace ssl_demo {

namespace {

std::string fixed(double x, int decimals = 3) {
  if (std::isnan(x)) return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, x);
  return buffer;
}

std::string general(double x) {
  if (std::isnan(x)) return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.3g", x);
  return buffer;
}

std::string padded(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}

void row(std::ostream& out, const std::vector<std::string>& cells, std::size_t width = 10, std::size_t first_width = 8) {
  for (std::size_t i = 0; i < cells.size(); ++i) {
    out << (i == 0 ? cells[i] + std::string(cells[i].size() < first_width ? first_width - cells[i].size() : 0, ' ') : padded(cells[i], width));
  }
  out << '\n';
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

std::string widths_text(const architecture& arch) {
  std::vector<std::string> widths;
  for (const auto w : arch.widths) widths.push_back(std::to_string(w));
  return joined(widths);
}

std::string mebibytes(std::int64_t bytes) { return bytes < 0 ? "-" : fixed(static_cast<double>(bytes) / (1024.0 * 1024.0), 1) + " MiB"; }

}  // namespace

void print_report(std::ostream& out, const demo_results& r) {
  out << "memloc SSL demo on " << r.dataset << " (" << r.mode << " mode, seed " << r.seed << ")\n";
  out << "data: " << r.data_path << "; a subset of " << r.subset << " of the " << r.train_pool << " training images: shared " << r.shared
      << ", candidate " << r.candidates << ", independent " << r.independent << "; held-out " << r.held_out << " (from "
      << (r.held_out_pool > 0 ? "the " + std::to_string(r.held_out_pool) + " test images" : "the training images after the subset")
      << ")\n";
  out << "encoder: " << r.arch.name << ", " << r.arch.input_side << "x" << r.arch.input_side << " input, conv widths " << widths_text(r.arch)
      << "\n";
  out << "SimCLR: " << r.training.epochs << " epochs, batch " << r.training.batch << ", Adam lr " << r.training.learning_rate
      << ", temperature " << r.training.temperature << "; f and g trained side by side, " << r.threads_per_encoder
      << " thread(s) each; final loss f " << fixed(r.f_loss.back()) << ", g " << fixed(r.g_loss.back()) << "\n";
  out << "measurement: " << r.views << " augmentations per sample, l2 over all pairs of views, SSLMem' = (g - f)/(g + f)\n";

  const auto& control = r.control;
  out << "\nControl (spec 1.2): SSLMem' at " << control.point << ", mean over each set\n";
  row(out, {"set", "samples", "mean"}, 12, 12);
  row(out, {"candidate", std::to_string(control.candidates), fixed(control.candidate_mean, 4)}, 12, 12);
  row(out, {"held-out", std::to_string(control.held_out), fixed(control.held_out_mean, 4)}, 12, 12);
  row(out, {"independent", std::to_string(control.independent), fixed(control.independent_mean, 4)}, 12, 12);
  out << "Welch t-test, candidates > held-out: t = " << fixed(control.statistic, 2) << ", df = " << fixed(control.df, 1) << ", p = " << general(control.p_value)
      << (control.p_value < 0.01 ? " (significant at 0.01)" : " (not significant at 0.01)") << "; the candidates' mean is "
      << (control.candidate_mean > 0.0 ? "positive" : "not positive") << "\n";

  out << "\nLayerMem of f against g on the " << r.layers.samples << " candidates (LOC Table 1 layout; top/least "
      << r.layers.subset_size << " by SSLMem' at " << r.layers.points.back() << ")\n";
  out << "(controls: LM held-out = the same f and g on the " << r.held_out << " held-out images, which neither saw; LM indep = on the "
      << r.independent << " independent images, which only g saw)\n";
  row(out, {"point", "LM", "dLM", "LM top", "dLM top", "LM least", "dLM least", "LM held", "LM indep"});
  for (std::size_t p = 0; p < r.layers.points.size(); ++p) {
    row(out, {r.layers.points[p], fixed(r.layers.all[p]), fixed(r.layers.delta_all[p]), fixed(r.layers.top[p]),
              fixed(r.layers.delta_top[p]), fixed(r.layers.least[p]), fixed(r.layers.delta_least[p]), fixed(r.held_out_layermem[p]),
              fixed(r.independent_layermem[p])});
  }

  out << "\nUnitMem of f's conv layers over the " << r.layers.samples << " candidates\n";
  row(out, {"layer", "units", "mean", "max", "> 0.5", "NaN"});
  for (const auto& u : r.unit_rows) {
    row(out, {u.layer, std::to_string(u.units), fixed(u.mean), fixed(u.max), fixed(100.0 * u.share_above_half, 1) + " %",
              std::to_string(u.nan_units)});
  }

  out << "\nClassMem (the " << r.class_names.size() << " class labels) vs UnitMem per layer\n";
  row(out, {"layer", "UnitMem", "ClassMem", "UM > CM"});
  for (const auto& c : r.class_rows) {
    row(out, {c.layer, fixed(c.mean_unitmem), fixed(c.mean_classmem), fixed(100.0 * c.share_unitmem_above_classmem, 1) + " %"});
  }

  out << "\nConsistency between conv layers (LOC Table 3 layout): overlap of the top-" << r.consistency_k
      << " samples by SSLMem' (chance " << fixed(100.0 * static_cast<double>(r.consistency_k) / static_cast<double>(r.layers.samples), 1)
      << " %), Kendall tau-b over all candidates\n";
  row(out, {"pair", "overlap", "tau", "p"});
  for (const auto& c : r.consistency_rows) {
    row(out, {c.a + "-" + c.b, fixed(c.overlap_percent, 1) + " %", fixed(c.tau), general(c.p_value)});
  }

  out << "\nUnitMem on the " << r.layers.subset_size << " most vs the " << r.layers.subset_size
      << " least memorized candidates (LOC Table 11): mean over all units and over each group's top-10 % units;"
         " Student t-test over all units, most > least\n";
  row(out, {"layer", "most", "least", "most top", "least top", "t", "p"});
  for (const auto& t : r.t_test_rows) {
    row(out, {t.layer, fixed(t.most_mean), fixed(t.least_mean), fixed(t.most_top_mean), fixed(t.least_top_mean), fixed(t.statistic, 2),
              general(t.p_value)});
  }

  out << "\nUnits and samples (LOC Fig. 1b, Table 12): each layer's top-10 % units by UnitMem and their argmax candidates; "
         "tau = Kendall tau-b over all units of UnitMem vs the SSLMem' of its argmax candidate\n";
  row(out, {"layer", "top units", "distinct", "max shared", "argmax SSL", "all SSL", "in top " + std::to_string(r.layers.subset_size), "tau", "p"}, 11);
  for (const auto& u : r.unit_sample_rows) {
    row(out, {u.layer, std::to_string(u.top_units), std::to_string(u.distinct_argmax), std::to_string(u.most_shared_count),
              fixed(u.argmax_score_mean, 4), fixed(u.candidate_score_mean, 4), std::to_string(u.argmax_in_top_set), fixed(u.tau),
              general(u.p_value)},
        11);
  }

  out << "\nWhat the analysis would act on (LOC Tables 5, 6, 21)\n";
  out << "  fine-tune the " << r.choice.count << " points of highest dLM: " << joined(r.choice.top_delta) << "; lowest dLM: "
      << joined(r.choice.least_delta) << "; highest LM: " << joined(r.choice.top_layermem) << "\n";
  out << "  prune the top 10 % of all conv units by UnitMem (" << r.choice.total_selected << " units), per layer:";
  for (std::size_t l = 0; l < r.choice.layers.size(); ++l) out << ' ' << r.choice.layers[l] << ": " << r.choice.total_top_units[l] << ';';
  out << "\n";

  out << "\nUnitMem during f's training (LOC Fig. 10): mean over units per layer\n";
  std::vector<std::string> header{"epoch"};
  for (const auto& layer : r.curve.layers) header.push_back(layer);
  row(out, header, 7);
  for (std::size_t e = 0; e < r.curve.epochs.size(); ++e) {
    std::vector<std::string> cells{std::to_string(r.curve.epochs[e])};
    for (const double x : r.curve.mean_unitmem[e]) cells.push_back(fixed(x));
    row(out, cells, 7);
  }

  out << "\nwall time:";
  for (const auto& [phase, seconds] : r.seconds) out << ' ' << phase << ' ' << fixed(seconds, 1) << " s;";
  out << '\n';
  out << "memory: resident " << mebibytes(r.memory.before_bytes) << " before the measurement pass, peak " << mebibytes(r.memory.measure_peak_bytes)
      << " during it (memloc's state over the candidates " << fixed(static_cast<double>(r.memory.memloc_state_bytes) / 1024.0, 1)
      << " KiB); peak of the whole run " << mebibytes(r.memory.process_peak_bytes) << "\n";
}

void write_json(std::ostream& out, const demo_results& r) {
  using memloc::cli::report;
  // An array of `count` objects, object i made by object_at(i).
  auto object_array = [](std::size_t count, const auto& object_at) {
    report array = report::array();
    for (std::size_t i = 0; i < count; ++i) array.push_back(object_at(i));
    return array;
  };
  auto values_array = [&](const std::vector<std::vector<double>>& rows) {
    return object_array(rows.size(), [&](std::size_t i) { return report{{"values", rows[i]}}; });
  };

  report json;
  json["report"] = "memloc ssl_demo";
  json["mode"] = r.mode;
  json["seed"] = static_cast<std::int64_t>(r.seed);
  json["data"] = {{"dataset", r.dataset},
                  {"path", r.data_path},
                  {"classes", r.class_names},
                  {"train_pool", r.train_pool},
                  {"held_out_pool", r.held_out_pool},
                  {"subset", r.subset},
                  {"shared", r.shared},
                  {"candidate", r.candidates},
                  {"independent", r.independent},
                  {"held_out", r.held_out}};
  json["encoder"] = {{"architecture", r.arch.name},
                     {"input_side", r.arch.input_side},
                     {"widths", r.arch.widths},
                     {"points", object_array(r.points.size(), [&](std::size_t p) {
                        const auto& point = r.points[p];
                        return report{{"name", point.name},
                                      {"conv", point.is_conv},
                                      {"channels", point.channels},
                                      {"height", point.height},
                                      {"width", point.width}};
                      })}};
  json["training"] = {{"epochs", r.training.epochs},
                      {"batch", r.training.batch},
                      {"learning_rate", r.training.learning_rate},
                      {"temperature", r.training.temperature},
                      {"threads_per_encoder", r.threads_per_encoder},
                      {"f_loss", r.f_loss},
                      {"g_loss", r.g_loss}};
  json["measurement"] = {{"views", r.views}, {"distance", "l2"}, {"pairs", "all_pairs"}, {"normalization", "ratio"}};

  const auto& lm = r.layers;
  json["layermem"] = {{"samples", lm.samples},
                      {"subset_size", lm.subset_size},
                      {"rank_point", lm.points.back()},
                      {"points", lm.points},
                      {"all", lm.all},
                      {"delta_all", lm.delta_all},
                      {"top", lm.top},
                      {"delta_top", lm.delta_top},
                      {"least", lm.least},
                      {"delta_least", lm.delta_least},
                      {"held_out", r.held_out_layermem},
                      {"independent", r.independent_layermem},
                      {"top_samples", lm.top_samples},
                      {"least_samples", lm.least_samples},
                      {"scores", values_array(lm.scores)}};

  const auto& c = r.control;
  json["control"] = {{"point", c.point},
                     {"candidates", c.candidates},
                     {"held_out", c.held_out},
                     {"independent", c.independent},
                     {"candidate_mean", c.candidate_mean},
                     {"held_out_mean", c.held_out_mean},
                     {"independent_mean", c.independent_mean},
                     {"test", "welch"},
                     {"alternative", "greater"},
                     {"t", c.statistic},
                     {"df", c.df},
                     {"p_value", c.p_value}};

  json["unitmem"] = object_array(r.unit_rows.size(), [&](std::size_t l) {
    const auto& u = r.unit_rows[l];
    return report{{"layer", u.layer},
                  {"units", u.units},
                  {"samples", u.samples},
                  {"nan_units", u.nan_units},
                  {"mean", u.mean},
                  {"max", u.max},
                  {"share_above_half", u.share_above_half},
                  {"values", r.units.unitmem[l]},
                  {"argmax", r.units.argmax[l]}};
  });

  json["classmem"] = object_array(r.class_rows.size(), [&](std::size_t l) {
    const auto& row = r.class_rows[l];
    return report{{"layer", row.layer},
                  {"mean_unitmem", row.mean_unitmem},
                  {"mean_classmem", row.mean_classmem},
                  {"share_unitmem_above_classmem", row.share_unitmem_above_classmem},
                  {"values", r.units.classmem[l]}};
  });

  json["consistency"] = {{"k", r.consistency_k},
                         {"pairs", object_array(r.consistency_rows.size(), [&](std::size_t i) {
                            const auto& row = r.consistency_rows[i];
                            return report{{"a", row.a},
                                          {"b", row.b},
                                          {"overlap", row.overlap},
                                          {"overlap_percent", row.overlap_percent},
                                          {"tau", row.tau},
                                          {"p_value", row.p_value},
                                          {"n", row.n}};
                          })}};

  json["t_test"] = {{"group_size", lm.subset_size},
                    {"kind", "student"},
                    {"alternative", "greater"},
                    {"layers", object_array(r.t_test_rows.size(), [&](std::size_t i) {
                       const auto& t = r.t_test_rows[i];
                       return report{{"layer", t.layer},
                                     {"units", t.units},
                                     {"top_units", t.top_units},
                                     {"most_mean", t.most_mean},
                                     {"least_mean", t.least_mean},
                                     {"most_top_mean", t.most_top_mean},
                                     {"least_top_mean", t.least_top_mean},
                                     {"t", t.statistic},
                                     {"df", t.df},
                                     {"p_value", t.p_value}};
                     })}};

  json["units_and_samples"] = object_array(r.unit_sample_rows.size(), [&](std::size_t i) {
    const auto& u = r.unit_sample_rows[i];
    return report{{"layer", u.layer},
                  {"units", u.units},
                  {"top_units", u.top_units},
                  {"distinct_argmax", u.distinct_argmax},
                  {"most_shared_sample", u.most_shared_sample},
                  {"most_shared_count", u.most_shared_count},
                  {"argmax_score_mean", u.argmax_score_mean},
                  {"candidate_score_mean", u.candidate_score_mean},
                  {"argmax_in_top_set", u.argmax_in_top_set},
                  {"tau", u.tau},
                  {"p_value", u.p_value}};
  });

  json["layer_choice"] = {{"count", r.choice.count},
                          {"top_delta", r.choice.top_delta},
                          {"least_delta", r.choice.least_delta},
                          {"top_layermem", r.choice.top_layermem},
                          {"layers", r.choice.layers},
                          {"total_top_units", r.choice.total_top_units},
                          {"total_selected", r.choice.total_selected}};

  json["unitmem_during_training"] = {{"layers", r.curve.layers},
                                     {"epochs", r.curve.epochs},
                                     {"mean", values_array(r.curve.mean_unitmem)},
                                     {"max", values_array(r.curve.max_unitmem)}};

  report& seconds = json["seconds"] = report::object();
  for (const auto& [phase, duration] : r.seconds) seconds[phase] = duration;

  json["memory"] = {{"before_measure_bytes", r.memory.before_bytes},
                    {"measure_peak_bytes", r.memory.measure_peak_bytes},
                    {"process_peak_bytes", r.memory.process_peak_bytes},
                    {"memloc_state_bytes", r.memory.memloc_state_bytes}};
  out << memloc::cli::to_text(json);
}

}  // namespace ssl_demo
