#include "report.hpp"

#include <cmath>
#include <cstdio>
#include <string>

#include "cli/json_writer.hpp"

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
  memloc::cli::json_writer json(out);
  // An array of `count` objects under `key`, member i written by write_members(i).
  auto object_array = [&json](std::string_view key, std::size_t count, const auto& write_members) {
    json.key(key);
    json.begin_array();
    for (std::size_t i = 0; i < count; ++i) {
      json.begin_object();
      write_members(i);
      json.end_object();
    }
    json.end_array();
  };
  auto values_array = [&](std::string_view key, const auto& rows) {
    object_array(key, rows.size(), [&](std::size_t i) { json.member("values", rows[i]); });
  };

  json.begin_object();
  json.member("report", "memloc ssl_demo");
  json.member("mode", r.mode);
  json.member("seed", static_cast<std::int64_t>(r.seed));

  json.key("data");
  json.begin_object();
  json.member("dataset", r.dataset);
  json.member("path", r.data_path);
  json.member("classes", r.class_names);
  json.member("train_pool", r.train_pool);
  json.member("held_out_pool", r.held_out_pool);
  json.member("subset", r.subset);
  json.member("shared", r.shared);
  json.member("candidate", r.candidates);
  json.member("independent", r.independent);
  json.member("held_out", r.held_out);
  json.end_object();

  json.key("encoder");
  json.begin_object();
  json.member("architecture", r.arch.name);
  json.member("input_side", r.arch.input_side);
  std::vector<std::int64_t> widths(r.arch.widths.begin(), r.arch.widths.end());
  json.member("widths", widths);
  object_array("points", r.points.size(), [&](std::size_t p) {
    json.member("name", r.points[p].name);
    json.member("conv", r.points[p].is_conv);
    json.member("channels", r.points[p].channels);
    json.member("height", r.points[p].height);
    json.member("width", r.points[p].width);
  });
  json.end_object();

  json.key("training");
  json.begin_object();
  json.member("epochs", r.training.epochs);
  json.member("batch", r.training.batch);
  json.member("learning_rate", r.training.learning_rate);
  json.member("temperature", r.training.temperature);
  json.member("threads_per_encoder", static_cast<std::int64_t>(r.threads_per_encoder));
  json.member("f_loss", r.f_loss);
  json.member("g_loss", r.g_loss);
  json.end_object();

  json.key("measurement");
  json.begin_object();
  json.member("views", r.views);
  json.member("distance", "l2");
  json.member("pairs", "all_pairs");
  json.member("normalization", "ratio");
  json.end_object();

  const auto& lm = r.layers;
  json.key("layermem");
  json.begin_object();
  json.member("samples", lm.samples);
  json.member("subset_size", lm.subset_size);
  json.member("rank_point", lm.points.back());
  json.member("points", lm.points);
  json.member("all", lm.all);
  json.member("delta_all", lm.delta_all);
  json.member("top", lm.top);
  json.member("delta_top", lm.delta_top);
  json.member("least", lm.least);
  json.member("delta_least", lm.delta_least);
  json.member("held_out", r.held_out_layermem);
  json.member("independent", r.independent_layermem);
  json.member("top_samples", lm.top_samples);
  json.member("least_samples", lm.least_samples);
  values_array("scores", lm.scores);
  json.end_object();

  json.key("control");
  json.begin_object();
  json.member("point", r.control.point);
  json.member("candidates", r.control.candidates);
  json.member("held_out", r.control.held_out);
  json.member("independent", r.control.independent);
  json.member("candidate_mean", r.control.candidate_mean);
  json.member("held_out_mean", r.control.held_out_mean);
  json.member("independent_mean", r.control.independent_mean);
  json.member("test", "welch");
  json.member("alternative", "greater");
  json.member("t", r.control.statistic);
  json.member("df", r.control.df);
  json.member("p_value", r.control.p_value);
  json.end_object();

  object_array("unitmem", r.unit_rows.size(), [&](std::size_t l) {
    const auto& u = r.unit_rows[l];
    json.member("layer", u.layer);
    json.member("units", u.units);
    json.member("samples", u.samples);
    json.member("nan_units", u.nan_units);
    json.member("mean", u.mean);
    json.member("max", u.max);
    json.member("share_above_half", u.share_above_half);
    json.member("values", r.units.unitmem[l]);
    json.member("argmax", r.units.argmax[l]);
  });

  object_array("classmem", r.class_rows.size(), [&](std::size_t l) {
    const auto& c = r.class_rows[l];
    json.member("layer", c.layer);
    json.member("mean_unitmem", c.mean_unitmem);
    json.member("mean_classmem", c.mean_classmem);
    json.member("share_unitmem_above_classmem", c.share_unitmem_above_classmem);
    json.member("values", r.units.classmem[l]);
  });

  json.key("consistency");
  json.begin_object();
  json.member("k", r.consistency_k);
  object_array("pairs", r.consistency_rows.size(), [&](std::size_t i) {
    const auto& c = r.consistency_rows[i];
    json.member("a", c.a);
    json.member("b", c.b);
    json.member("overlap", c.overlap);
    json.member("overlap_percent", c.overlap_percent);
    json.member("tau", c.tau);
    json.member("p_value", c.p_value);
    json.member("n", c.n);
  });
  json.end_object();

  json.key("t_test");
  json.begin_object();
  json.member("group_size", lm.subset_size);
  json.member("kind", "student");
  json.member("alternative", "greater");
  object_array("layers", r.t_test_rows.size(), [&](std::size_t i) {
    const auto& t = r.t_test_rows[i];
    json.member("layer", t.layer);
    json.member("units", t.units);
    json.member("top_units", t.top_units);
    json.member("most_mean", t.most_mean);
    json.member("least_mean", t.least_mean);
    json.member("most_top_mean", t.most_top_mean);
    json.member("least_top_mean", t.least_top_mean);
    json.member("t", t.statistic);
    json.member("df", t.df);
    json.member("p_value", t.p_value);
  });
  json.end_object();

  object_array("units_and_samples", r.unit_sample_rows.size(), [&](std::size_t i) {
    const auto& u = r.unit_sample_rows[i];
    json.member("layer", u.layer);
    json.member("units", u.units);
    json.member("top_units", u.top_units);
    json.member("distinct_argmax", u.distinct_argmax);
    json.member("most_shared_sample", u.most_shared_sample);
    json.member("most_shared_count", u.most_shared_count);
    json.member("argmax_score_mean", u.argmax_score_mean);
    json.member("candidate_score_mean", u.candidate_score_mean);
    json.member("argmax_in_top_set", u.argmax_in_top_set);
    json.member("tau", u.tau);
    json.member("p_value", u.p_value);
  });

  json.key("layer_choice");
  json.begin_object();
  json.member("count", r.choice.count);
  json.member("top_delta", r.choice.top_delta);
  json.member("least_delta", r.choice.least_delta);
  json.member("top_layermem", r.choice.top_layermem);
  json.member("layers", r.choice.layers);
  json.member("total_top_units", r.choice.total_top_units);
  json.member("total_selected", r.choice.total_selected);
  json.end_object();

  json.key("unitmem_during_training");
  json.begin_object();
  json.member("layers", r.curve.layers);
  json.member("epochs", r.curve.epochs);
  values_array("mean", r.curve.mean_unitmem);
  values_array("max", r.curve.max_unitmem);
  json.end_object();

  json.key("seconds");
  json.begin_object();
  for (const auto& [phase, seconds] : r.seconds) json.member(phase, seconds);
  json.end_object();

  json.key("memory");
  json.begin_object();
  json.member("before_measure_bytes", r.memory.before_bytes);
  json.member("measure_peak_bytes", r.memory.measure_peak_bytes);
  json.member("process_peak_bytes", r.memory.process_peak_bytes);
  json.member("memloc_state_bytes", r.memory.memloc_state_bytes);
  json.end_object();
  json.end_object();
}

}  // namespace ssl_demo
