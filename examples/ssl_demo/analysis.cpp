#include "analysis.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <memloc/memloc.hpp>

namespace ssl_demo {

namespace {

const memloc::host_exec exec{};

memloc::vector_view<const double> view_of(const std::vector<double>& values) {
  return memloc::make_vector_view<memloc::host_space>(values.data(), static_cast<memloc::index_t>(values.size()));
}

std::vector<std::int64_t> ranked_head(const std::vector<double>& scores, std::int64_t k, memloc::rank_direction direction) {
  const auto ranked = memloc::top_k_indices(exec, view_of(scores), memloc::top_count(k), direction);
  return {ranked.indices.begin(), ranked.indices.end()};
}

std::vector<memloc::measurement_point<>> points_of(const std::vector<measurement_point_info>& infos,
                                                   const alignment_measurement& alignment) {
  std::vector<memloc::measurement_point<>> points;
  for (std::size_t p = 0; p < infos.size(); ++p) {
    points.push_back({infos[p].name, view_of(alignment.ssl_f[p]), view_of(alignment.ssl_g[p])});
  }
  return points;
}

// LayerMem and ΔLayerMem of `subset` at every point.
void fill_layermem(const std::vector<memloc::measurement_point<>>& points, const memloc::sample_subset& subset,
                   std::vector<double>& layermem, std::vector<double>& delta) {
  const auto count = static_cast<memloc::index_t>(points.size());
  layermem.assign(points.size(), 0.0);
  delta.assign(points.size(), 0.0);
  memloc::layermem(exec, points, memloc::make_vector_view(layermem.data(), count), memloc::make_vector_view(delta.data(), count),
                   memloc::vector_view<std::int64_t>{}, {{}, subset});
}

}  // namespace

double mean_of_numbers(const std::vector<double>& values) {
  double sum = 0.0;
  std::int64_t count = 0;
  for (const double x : values) {
    if (std::isnan(x)) continue;
    sum += x;
    ++count;
  }
  return count == 0 ? std::numeric_limits<double>::quiet_NaN() : sum / static_cast<double>(count);
}

std::vector<double> sslmem_scores_at(const alignment_measurement& alignment, std::size_t point) {
  std::vector<double> scores(alignment.ssl_f[point].size());
  memloc::sslmem(exec, view_of(alignment.ssl_f[point]), view_of(alignment.ssl_g[point]),
                 memloc::make_vector_view(scores.data(), static_cast<memloc::index_t>(scores.size())));
  return scores;
}

std::vector<std::vector<double>> sslmem_scores(const alignment_measurement& alignment) {
  std::vector<std::vector<double>> all;
  for (std::size_t p = 0; p < alignment.ssl_f.size(); ++p) all.push_back(sslmem_scores_at(alignment, p));
  return all;
}

std::vector<double> layermem_means(const std::vector<measurement_point_info>& infos, const alignment_measurement& alignment) {
  std::vector<double> layermem, delta;
  fill_layermem(points_of(infos, alignment), {}, layermem, delta);
  return layermem;
}

layermem_table layermem_analysis(const std::vector<measurement_point_info>& infos, const alignment_measurement& alignment,
                                 std::int64_t subset_size) {
  layermem_table table;
  table.samples = static_cast<std::int64_t>(alignment.ssl_f.front().size());
  table.subset_size = subset_size;
  const auto points = points_of(infos, alignment);
  for (const auto& info : infos) table.points.push_back(info.name);
  table.scores = sslmem_scores(alignment);
  fill_layermem(points, {}, table.all, table.delta_all);
  fill_layermem(points, {memloc::subset_kind::top, subset_size}, table.top, table.delta_top);
  fill_layermem(points, {memloc::subset_kind::least, subset_size}, table.least, table.delta_least);
  // The same ranking layermem used for its top / least subsets (the last point's scores).
  table.top_samples = ranked_head(table.scores.back(), subset_size, memloc::rank_direction::top);
  table.least_samples = ranked_head(table.scores.back(), subset_size, memloc::rank_direction::least);
  return table;
}

std::vector<unitmem_summary> summarise_units(const unit_measurement& units) {
  std::vector<unitmem_summary> rows;
  for (std::size_t l = 0; l < units.layers.size(); ++l) {
    unitmem_summary row;
    row.layer = units.layers[l];
    row.units = units.unit_reports[l].units;
    row.samples = units.unit_reports[l].samples;
    row.nan_units = units.unit_reports[l].nan_units;
    row.mean = mean_of_numbers(units.unitmem[l]);
    std::int64_t above = 0;
    row.max = -std::numeric_limits<double>::infinity();
    for (const double x : units.unitmem[l]) {
      if (std::isnan(x)) continue;
      row.max = std::max(row.max, x);
      above += x > 0.5 ? 1 : 0;
    }
    row.share_above_half = static_cast<double>(above) / static_cast<double>(row.units);
    rows.push_back(row);
  }
  return rows;
}

std::vector<classmem_comparison> compare_classes(const unit_measurement& units) {
  std::vector<classmem_comparison> rows;
  for (std::size_t l = 0; l < units.layers.size(); ++l) {
    classmem_comparison row;
    row.layer = units.layers[l];
    row.mean_unitmem = mean_of_numbers(units.unitmem[l]);
    row.mean_classmem = mean_of_numbers(units.classmem[l]);
    std::int64_t both = 0, above = 0;
    for (std::size_t u = 0; u < units.unitmem[l].size(); ++u) {
      const double unit = units.unitmem[l][u], cls = units.classmem[l][u];
      if (std::isnan(unit) || std::isnan(cls)) continue;
      ++both;
      above += unit > cls ? 1 : 0;
    }
    row.share_unitmem_above_classmem = both == 0 ? std::numeric_limits<double>::quiet_NaN()
                                                 : static_cast<double>(above) / static_cast<double>(both);
    rows.push_back(row);
  }
  return rows;
}

control_comparison compare_with_controls(const layermem_table& candidates, const alignment_measurement& held_out,
                                         const alignment_measurement& independent) {
  control_comparison result;
  result.point = candidates.points.back();
  const auto& candidate_scores = candidates.scores.back();
  const auto last = candidates.points.size() - 1;
  const auto held_out_scores = sslmem_scores_at(held_out, last);
  const auto independent_scores = sslmem_scores_at(independent, last);
  result.candidates = static_cast<std::int64_t>(candidate_scores.size());
  result.held_out = static_cast<std::int64_t>(held_out_scores.size());
  result.independent = static_cast<std::int64_t>(independent_scores.size());
  result.candidate_mean = mean_of_numbers(candidate_scores);
  result.held_out_mean = mean_of_numbers(held_out_scores);
  result.independent_mean = mean_of_numbers(independent_scores);
  const auto test = memloc::t_test(exec, view_of(candidate_scores), view_of(held_out_scores),
                                   {memloc::t_test_kind::welch, memloc::alternative::greater});
  result.statistic = test.statistic;
  result.df = test.df;
  result.p_value = test.p_value;
  return result;
}

std::vector<consistency_row> consistency(const std::vector<measurement_point_info>& infos, const layermem_table& table, std::int64_t k) {
  std::vector<std::size_t> convs;
  for (std::size_t p = 0; p < table.points.size(); ++p) {
    if (infos[p].is_conv) convs.push_back(p);
  }
  std::vector<consistency_row> rows;
  for (std::size_t i = 0; i < convs.size(); ++i) {
    for (std::size_t j = i + 1; j < convs.size(); ++j) {
      const auto& a = table.scores[convs[i]];
      const auto& b = table.scores[convs[j]];
      const auto overlap = memloc::top_k_overlap(exec, view_of(a), view_of(b), memloc::top_count(k));
      const auto tau = memloc::kendall_tau_b(exec, view_of(a), view_of(b));
      rows.push_back({table.points[convs[i]], table.points[convs[j]], overlap.k, overlap.count, 100.0 * overlap.fraction, tau.tau,
                      tau.p_value, tau.n});
    }
  }
  return rows;
}

std::vector<unit_sample_row> link_units_to_samples(const unit_measurement& units, const layermem_table& table) {
  const auto& scores = table.scores.back();
  const std::set<std::int64_t> top_set(table.top_samples.begin(), table.top_samples.end());
  std::vector<unit_sample_row> rows;
  for (std::size_t l = 0; l < units.layers.size(); ++l) {
    const auto& unitmem = units.unitmem[l];
    const auto& argmax = units.argmax[l];
    const auto count = static_cast<memloc::index_t>(unitmem.size());
    const auto links = memloc::units_to_samples(exec, view_of(unitmem), memloc::make_vector_view<memloc::host_space>(argmax.data(), count),
                                                view_of(scores), memloc::top_fraction(0.1));
    unit_sample_row row;
    row.layer = units.layers[l];
    row.units = count;
    row.top_units = static_cast<std::int64_t>(links.top_units.size());
    std::set<std::int64_t> distinct;
    std::vector<double> argmax_scores;
    for (const auto u : links.top_units) {
      const auto sample = argmax[static_cast<std::size_t>(u)];
      distinct.insert(sample);
      argmax_scores.push_back(scores[static_cast<std::size_t>(sample)]);
      row.argmax_in_top_set += top_set.count(sample) != 0 ? 1 : 0;
    }
    row.distinct_argmax = static_cast<std::int64_t>(distinct.size());
    const auto most = std::max_element(links.top_unit_count.begin(), links.top_unit_count.end());
    row.most_shared_sample = static_cast<std::int64_t>(most - links.top_unit_count.begin());
    row.most_shared_count = *most;
    row.argmax_score_mean = mean_of_numbers(argmax_scores);
    row.candidate_score_mean = mean_of_numbers(scores);
    const auto tau = memloc::kendall_tau_b(exec, view_of(unitmem), view_of(links.argmax_score));
    row.tau = tau.tau;
    row.p_value = tau.p_value;
    rows.push_back(row);
  }
  return rows;
}

layer_choice choose_layers(const layermem_table& table, const unit_measurement& units) {
  layer_choice choice;
  auto names_of = [&](const std::vector<double>& values, memloc::rank_direction direction) {
    return memloc::select_layers(exec, table.points, view_of(values), choice.count, direction).names;
  };
  choice.top_delta = names_of(table.delta_all, memloc::rank_direction::top);
  choice.least_delta = names_of(table.delta_all, memloc::rank_direction::least);
  choice.top_layermem = names_of(table.all, memloc::rank_direction::top);
  std::vector<memloc::named_scores<const double>> layers;
  for (std::size_t l = 0; l < units.layers.size(); ++l) layers.push_back({units.layers[l], view_of(units.unitmem[l])});
  const auto masks = memloc::pruning_masks(exec, layers, {memloc::prune_selection::top, memloc::prune_scope::total, memloc::top_fraction(0.1)});
  choice.layers = masks.names;
  for (const auto& selected : masks.units) {
    choice.total_top_units.push_back(static_cast<std::int64_t>(selected.size()));
    choice.total_selected += static_cast<std::int64_t>(selected.size());
  }
  return choice;
}

std::vector<unit_t_test_row> unit_t_tests(const unit_measurement& most, const unit_measurement& least) {
  std::vector<unit_t_test_row> rows;
  for (std::size_t l = 0; l < most.layers.size(); ++l) {
    unit_t_test_row row;
    row.layer = most.layers[l];
    row.units = static_cast<std::int64_t>(most.unitmem[l].size());
    row.most_mean = mean_of_numbers(most.unitmem[l]);
    row.least_mean = mean_of_numbers(least.unitmem[l]);
    auto top_mean = [&](const std::vector<double>& unitmem) {
      const auto head = memloc::top_k_indices(exec, view_of(unitmem), memloc::top_fraction(0.1));
      std::vector<double> values;
      for (const auto u : head.indices) values.push_back(unitmem[static_cast<std::size_t>(u)]);
      row.top_units = static_cast<std::int64_t>(values.size());
      return mean_of_numbers(values);
    };
    row.most_top_mean = top_mean(most.unitmem[l]);
    row.least_top_mean = top_mean(least.unitmem[l]);
    const auto test = memloc::t_test(exec, view_of(most.unitmem[l]), view_of(least.unitmem[l]),
                                     {memloc::t_test_kind::student, memloc::alternative::greater});
    row.statistic = test.statistic;
    row.df = test.df;
    row.p_value = test.p_value;
    rows.push_back(row);
  }
  return rows;
}

}  // namespace ssl_demo
