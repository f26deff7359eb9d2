#pragma once

// Selections of units by UnitMem: pruning masks (LOC Table 6) and the links between units
// and the samples that drive them (LOC Fig. 1b, Table 12). A NaN UnitMem unit has no rank
// (its selectivity is undefined), so it is never taken as a top or a low unit.

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "../../analysis_types.hpp"
#include "../ranking.hpp"
#include "select.hpp"

namespace memloc::detail::analysis {

// Each layer's selection as flags and sorted indices; `chosen[l]` lists the units of layer l.
inline unit_masks masks_from(std::vector<std::string> names, const std::vector<std::vector<double>>& layers,
                                std::vector<std::vector<index_t>> chosen) {
  unit_masks masks;
  masks.names = std::move(names);
  for (std::size_t l = 0; l < layers.size(); ++l) {
    std::sort(chosen[l].begin(), chosen[l].end());
    masks.pruned.push_back(membership(chosen[l], static_cast<index_t>(layers[l].size())));
    masks.nan_units.push_back(count_nan(layers[l]));
  }
  masks.units = std::move(chosen);
  return masks;
}

// Units per layer for a selection of `ks[l]` units in each layer (per_layer scope) or of
// `ks[0]` units of all layers together (total scope, layers concatenated in order, so ties
// go to the earlier layer). Top and low take the head of the ranking, whose NaN units come
// last; the caller has checked that there are enough numbers. Random draws take no account of scores, NaN or not: per layer
// from seeds drawn in turn from mt19937_64(seed), so that layers (and runs with nearby
// seeds) get unrelated draws; in total scope one detail::random_subset(units, k, seed).
inline unit_masks select_units(std::vector<std::string> names, const std::vector<std::vector<double>>& layers,
                                  const std::vector<index_t>& ks, const pruning_options& options) {
  const std::size_t count = layers.size();
  std::vector<std::vector<index_t>> chosen(count);
  const rank_direction direction =
      options.selection == prune_selection::top ? rank_direction::top : rank_direction::least;
  if (options.scope == prune_scope::per_layer) {
    std::mt19937_64 seeds(options.seed);
    for (std::size_t l = 0; l < count; ++l) {
      const index_t units = static_cast<index_t>(layers[l].size());
      chosen[l] = options.selection == prune_selection::random ? random_subset(units, ks[l], seeds())
                                                               : head_of_ranking(layers[l], ks[l], direction);
    }
    return masks_from(std::move(names), layers, std::move(chosen));
  }
  std::vector<double> all;
  std::vector<std::size_t> layer_of;
  std::vector<index_t> unit_of;
  for (std::size_t l = 0; l < count; ++l) {
    for (std::size_t u = 0; u < layers[l].size(); ++u) {
      all.push_back(layers[l][u]);
      layer_of.push_back(l);
      unit_of.push_back(static_cast<index_t>(u));
    }
  }
  const std::vector<index_t> flat = options.selection == prune_selection::random
                                        ? random_subset(static_cast<index_t>(all.size()), ks[0], options.seed)
                                        : head_of_ranking(all, ks[0], direction);
  for (const index_t f : flat) chosen[layer_of[static_cast<std::size_t>(f)]].push_back(unit_of[static_cast<std::size_t>(f)]);
  return masks_from(std::move(names), layers, std::move(chosen));
}

// Per unit the score of its argmax sample; per sample the number of the top `k` units (by
// UnitMem, highest first) whose argmax it is. Ids were checked to lie in [0, scores), and
// there are at least k non-NaN UnitMem values, so NaN (ranked last) is never a top unit.
inline unit_sample_links link_units(const std::vector<double>& unitmem, const std::vector<std::int64_t>& argmax,
                                    const std::vector<double>& sample_scores, index_t k) {
  unit_sample_links links;
  links.argmax_score.resize(unitmem.size());
  for (std::size_t u = 0; u < unitmem.size(); ++u) {
    links.argmax_score[u] = sample_scores[static_cast<std::size_t>(argmax[u])];
  }
  links.top_units = head_of_ranking(unitmem, k, rank_direction::top);
  links.top_unit_count.assign(sample_scores.size(), 0);
  for (const index_t u : links.top_units) ++links.top_unit_count[static_cast<std::size_t>(argmax[static_cast<std::size_t>(u)])];
  links.nan_units = count_nan(unitmem);
  return links;
}

}  // namespace memloc::detail::analysis
