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

// Names of the enumerators, as written in code, for messages and reports.
inline const char* to_string(distance_kind v) noexcept {
  switch (v) {
    case distance_kind::l2: return "l2";
    case distance_kind::l2_normalized: return "l2_normalized";
    case distance_kind::l1: return "l1";
    case distance_kind::cosine: return "cosine";
    case distance_kind::angular: return "angular";
  }
  return "(invalid distance_kind)";
}
inline const char* to_string(pair_mode v) noexcept {
  switch (v) {
    case pair_mode::all_pairs: return "all_pairs";
    case pair_mode::original_vs_views: return "original_vs_views";
  }
  return "(invalid pair_mode)";
}
inline const char* to_string(sslmem_normalization v) noexcept {
  switch (v) {
    case sslmem_normalization::none: return "none";
    case sslmem_normalization::ratio: return "ratio";
    case sslmem_normalization::range: return "range";
    case sslmem_normalization::max: return "max";
  }
  return "(invalid sslmem_normalization)";
}
inline const char* to_string(subset_kind v) noexcept {
  switch (v) {
    case subset_kind::all: return "all";
    case subset_kind::random: return "random";
    case subset_kind::top: return "top";
    case subset_kind::least: return "least";
  }
  return "(invalid subset_kind)";
}
inline const char* to_string(rest_reduction v) noexcept {
  switch (v) {
    case rest_reduction::mean: return "mean";
    case rest_reduction::median: return "median";
  }
  return "(invalid rest_reduction)";
}
inline const char* to_string(activation_transform v) noexcept {
  switch (v) {
    case activation_transform::none: return "none";
    case activation_transform::relu: return "relu";
    case activation_transform::abs: return "abs";
  }
  return "(invalid activation_transform)";
}
inline const char* to_string(unitmem_storage v) noexcept {
  switch (v) {
    case unitmem_storage::automatic: return "automatic";
    case unitmem_storage::per_unit: return "per_unit";
    case unitmem_storage::per_sample: return "per_sample";
  }
  return "(invalid unitmem_storage)";
}

}  // namespace memloc
