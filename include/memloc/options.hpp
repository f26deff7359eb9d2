#pragma once

#include <cstdint>

namespace memloc {

// Distance d(a, b) between two views' representations (spec §1, A4).
enum class distance_kind {
  l2,             // ||a - b||_2, the paper's choice and the default
  l2_normalized,  // ||a/||a|| - b/||b|| ||_2, the authors' scoring code; in [0, 2]
  l1,             // ||a - b||_1
  cosine,         // 1 - cos(a, b); in [0, 2]
  angular,        // arccos(cos(a, b)) / pi; in [0, 1]
};

// Which pairs of the V views of a sample are compared (spec A3).
enum class pair_mode {
  all_pairs,          // every pair i < j of augmented views (the paper), V(V-1)/2 pairs
  original_vs_views,  // view 0 is the un-augmented original, compared with each other view (the code)
};

struct alignment_options {
  distance_kind distance = distance_kind::l2;
  pair_mode pairs = pair_mode::all_pairs;
};

// How SSL_g - SSL_f is turned into a score (spec A2).
enum class sslmem_normalization {
  none,   // Eq. 1: SSL_g - SSL_f
  ratio,  // Eq. 2: (SSL_g - SSL_f) / (SSL_g + SSL_f), per sample; the default
  range,  // authors' SSLMem code: diff / (max diff - min diff) over the evaluated set
  max,    // authors' remove_samples.py: f/max f, g/max g, then diff / max diff
};

struct sslmem_options {
  sslmem_normalization normalization = sslmem_normalization::ratio;
  bool clamp01 = false;  // clamp scores to [0, 1], the range the paper claims for Eq. 2
};

// Which samples LayerMem averages over (spec §2.3).
enum class subset_kind {
  all,     // every sample
  random,  // k samples drawn without replacement with a seeded generator
  top,     // the k samples with the highest score at the ranking point
  least,   // the k samples with the lowest score at the ranking point
};

struct sample_subset {
  subset_kind kind = subset_kind::all;
  std::int64_t k = 0;          // subset size for random / top / least
  std::uint64_t seed = 0;      // for random
  std::int64_t rank_point = -1;  // measurement point whose SSLMem ranks samples; -1 = the last one
};

struct layermem_options {
  sslmem_options score{};  // how each point's per-sample score is formed (Eq. 2 by default)
  sample_subset subset{};
};

// μ_-max of UnitMem / ClassMem: Eq. 7's mean, or the median the authors' code uses (A1).
enum class rest_reduction { mean, median };

// Applied to every activation before it is averaged (A6). The [0, 1] range of UnitMem
// holds only for non-negative activations: use relu or abs on pre-activation outputs.
enum class activation_transform { none, relu, abs };

// Where UnitMem keeps its running state.
enum class unitmem_storage {
  automatic,   // per_unit for the mean variant, per_sample for the median
  per_unit,    // O(units): needs every batch to hold all views of its samples
  per_sample,  // μ[samples, units]: views of a sample may arrive in different batches
};

struct unitmem_options {
  rest_reduction rest = rest_reduction::mean;
  activation_transform transform = activation_transform::none;
  unitmem_storage storage = unitmem_storage::automatic;
};

struct classmem_options {
  activation_transform transform = activation_transform::none;
};

}  // namespace memloc
