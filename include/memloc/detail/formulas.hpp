#pragma once

// The formulas of the metrics, each written once and shared by every backend (host loops,
// CUDA kernels). The numerical edge-case policy lives here and nowhere else:
//   * 0/0 -> 0 for the selectivity index (UnitMem, ClassMem) and for SSLMem's ratio;
//   * a selectivity index with a non-positive denominator and a nonzero numerator (possible
//     only with negative activations) is NaN and is reported as such;
//   * NaN inputs propagate to the outputs they touch.

#include <cmath>
#include <cstdint>
#include <cstring>

#include "../options.hpp"
#include "../types.hpp"

namespace memloc::detail {

// ---- activations --------------------------------------------------------------------

template <activation_transform Transform>
struct transform_op {
  template <class W>
  MEMLOC_HD static W apply(W x) noexcept {
    if constexpr (Transform == activation_transform::relu) {
      // Written so that NaN stays NaN (std::max would drop it on one side).
      return x < W(0) ? W(0) : x;
    } else if constexpr (Transform == activation_transform::abs) {
      return x < W(0) ? -x : x;
    } else {
      return x;
    }
  }
};

// Calls f with transform_op<T> for the runtime value, so loops are compiled per transform.
template <class F>
decltype(auto) dispatch_transform(activation_transform transform, F&& f) {
  switch (transform) {
    case activation_transform::relu: return f(transform_op<activation_transform::relu>{});
    case activation_transform::abs: return f(transform_op<activation_transform::abs>{});
    case activation_transform::none: break;
  }
  return f(transform_op<activation_transform::none>{});
}

// μ of a sample is kept in fp32: the packed argmax key holds fp32 bits, and the fp64 sums
// add exactly those fp32 values, so μ_max and the sum it is subtracted from agree.
MEMLOC_HD inline float mu_from_total(double total, std::int64_t elements) noexcept {
  return static_cast<float>(total / static_cast<double>(elements));
}

// mu_from_total for many totals of one element count, without a division per value where
// none is needed: for a power-of-two count (one view and one position above all) the
// reciprocal is exact, and the product is the same correctly rounded quotient.
struct mu_from_totals {
  std::int64_t elements;
  double reciprocal;
  bool exact;

  MEMLOC_HD explicit mu_from_totals(std::int64_t count) noexcept
      : elements(count), reciprocal(1.0 / static_cast<double>(count)), exact(count > 0 && (count & (count - 1)) == 0) {}

  MEMLOC_HD float operator()(double total) const noexcept {
    return exact ? static_cast<float>(total * reciprocal) : mu_from_total(total, elements);
  }
};

// ---- selectivity index: UnitMem (Eq. 8) and ClassMem (Eq. 16) ------------------------

struct selectivity {
  double value;
  bool negative_denominator;
};

MEMLOC_HD inline selectivity selectivity_index(double top, double rest) noexcept {
  const double numerator = top - rest;
  const double denominator = top + rest;
  if (denominator > 0.0) return {numerator / denominator, false};
  if (numerator == 0.0 && denominator == 0.0) return {0.0, false};  // an inactive unit
  if (std::isnan(numerator) || std::isnan(denominator)) return {numerator + denominator, false};
  return {NAN, true};
}

// Mean of the samples other than the maximum (Eq. 7), from the running sum.
MEMLOC_HD inline double mean_of_others(double sum, double top, std::int64_t count) noexcept {
  return (sum - top) / static_cast<double>(count - 1);
}

// ClassMem's top class and rest for one unit (Eqs. 13-16): class means over the classes
// that have samples, the first class on ties, and the mean of the other classes' means. A
// NaN mean makes both NaN. sum_at(c) is the unit's sum of μ over class c, count_at(c) the
// class's sample count; `present` counts the classes with samples.
struct class_top_and_rest {
  double top;
  std::int64_t top_class;
  double rest;
};

template <class SumAt, class CountAt>
MEMLOC_HD inline class_top_and_rest class_means_top_and_rest(std::int64_t classes, std::int64_t present, SumAt sum_at,
                                                             CountAt count_at) noexcept {
  double top = 0.0, sum = 0.0;
  std::int64_t top_class = -1;
  bool has_nan = false;
  for (std::int64_t c = 0; c < classes; ++c) {
    const std::int64_t n = count_at(c);
    if (n == 0) continue;
    const double mean = sum_at(c) / static_cast<double>(n);
    has_nan |= mean != mean;
    sum += mean;
    if (top_class < 0 || mean > top) {
      top = mean;
      top_class = c;
    }
  }
  if (has_nan) return {static_cast<double>(NAN), top_class, static_cast<double>(NAN)};
  return {top, top_class, mean_of_others(sum, top, present)};
}

// ---- packed argmax keys -------------------------------------------------------------
// (order-preserving float bits) << 32 | (0xFFFFFFFF - id): the largest key holds the
// largest value and, among equal values, the smallest id. Key 0 never encodes a real
// sample (ids stop below 0xFFFFFFFF), so it is the identity of max.

inline constexpr std::uint64_t empty_max_key = 0;

MEMLOC_HD inline std::uint32_t order_preserving_bits(float value) noexcept {
  const std::uint32_t bits = bits_from_float(value);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

MEMLOC_HD inline float value_from_order_preserving_bits(std::uint32_t ordered) noexcept {
  const std::uint32_t bits = (ordered & 0x80000000u) ? (ordered & 0x7fffffffu) : ~ordered;
  return float_from_bits(bits);
}

// -0 becomes +0 and every NaN the positive quiet NaN, so that equal values tie (and the
// smaller id wins) and a NaN always wins the max, whatever its sign bit.
MEMLOC_HD inline float canonical_key_value(float value) noexcept {
  if (value != value) return float_from_bits(0x7fc00000u);
  return value + 0.0f;
}

MEMLOC_HD inline std::uint64_t pack_max_key(float value, std::int64_t id) noexcept {
  return (static_cast<std::uint64_t>(order_preserving_bits(canonical_key_value(value))) << 32) |
         static_cast<std::uint64_t>(0xFFFFFFFFu - static_cast<std::uint32_t>(id));
}

MEMLOC_HD inline float key_value(std::uint64_t key) noexcept {
  return value_from_order_preserving_bits(static_cast<std::uint32_t>(key >> 32));
}

MEMLOC_HD inline std::int64_t key_id(std::uint64_t key) noexcept {
  return static_cast<std::int64_t>(0xFFFFFFFFu - static_cast<std::uint32_t>(key & 0xFFFFFFFFu));
}

// ---- median ---------------------------------------------------------------------------
// The median of μ is selected on order-preserving bits with -0 folded into +0 (the same
// canonical zero as the packed keys), so the two zeros are one value: a median among zeros
// is +0 on every backend, whatever signs the zeros carried.

MEMLOC_HD inline std::uint32_t selection_bits(float mu) noexcept { return order_preserving_bits(mu + 0.0f); }

// One step of a most-significant-digit radix selection (the host's and the device's differ
// in digit widths and parallel layout, not in this step): the digit whose bucket holds the
// rank-th smallest (0-based) candidate, given each bucket's count; `rank` becomes the rank
// within that bucket.
template <class Rank, class CountAt>
MEMLOC_HD inline std::uint32_t digit_holding_rank(CountAt count_at, std::uint32_t digits, Rank& rank) noexcept {
  std::uint32_t digit = 0;
  for (; digit + 1 < digits; ++digit) {
    const auto count = static_cast<Rank>(count_at(digit));
    if (rank < count) break;
    rank -= count;
  }
  return digit;
}

// The median of an even count: the mean of the two middle values, as numpy does.
MEMLOC_HD inline double middle_mean(double lower, double upper) noexcept { return 0.5 * (lower + upper); }

// ---- sample ids -----------------------------------------------------------------------

// The one-shot functions name samples by their row in the input.
MEMLOC_HD inline std::int64_t row_sample_id(std::int64_t row) noexcept { return row; }

// ---- order of bad rows --------------------------------------------------------------
// The host reports the first bad id or label of the updates in this order: earlier batch
// (update call) first, within a batch every sample id before any label, then by row. The
// device finds the first with one atomicMax over this key: batch above bit 34, the label
// flag at bit 33, the row below. Batch numbers therefore stop at max_keyed_batch (the
// accumulators refuse further updates until reset) and rows of a batch below 2^33. The
// status record keeps the key's complement, so that zeroed memory means "none": the last
// batch number is one below the field's maximum, or the all-ones key of its last label row
// would read as no bad row at all.

inline constexpr int bad_row_label_bit = 33;
inline constexpr int bad_row_batch_shift = 34;
inline constexpr long long max_keyed_batch = (1LL << (64 - bad_row_batch_shift)) - 2;

MEMLOC_HD inline std::uint64_t bad_row_key(long long batch, bool is_label, std::int64_t row) noexcept {
  return (static_cast<std::uint64_t>(batch) << bad_row_batch_shift) |
         (static_cast<std::uint64_t>(is_label) << bad_row_label_bit) | static_cast<std::uint64_t>(row);
}

MEMLOC_HD inline long long bad_row_batch(std::uint64_t key) noexcept {
  return static_cast<long long>(key >> bad_row_batch_shift);
}

MEMLOC_HD inline bool bad_row_is_label(std::uint64_t key) noexcept { return ((key >> bad_row_label_bit) & 1u) != 0; }

MEMLOC_HD inline std::int64_t bad_row_row(std::uint64_t key) noexcept {
  return static_cast<std::int64_t>(key & ((std::uint64_t{1} << bad_row_label_bit) - 1));
}

// ---- SSLMem -------------------------------------------------------------------------

MEMLOC_HD inline double sslmem_difference(double ssl_f, double ssl_g) noexcept { return ssl_g - ssl_f; }

// Eq. 2. Distances are non-negative, so a zero denominator means both are zero.
MEMLOC_HD inline double sslmem_ratio(double ssl_f, double ssl_g) noexcept {
  const double denominator = ssl_f + ssl_g;
  if (denominator == 0.0) return 0.0;
  return (ssl_g - ssl_f) / denominator;
}

MEMLOC_HD inline double clamp01(double x) noexcept {
  if (x < 0.0) return 0.0;
  if (x > 1.0) return 1.0;
  return x;  // NaN falls through unchanged
}

// The range and max normalisations divide a whole set of values by a statistic of the set.
// A NaN anywhere leaves the statistic undefined, and so every score; a set of zeros stays
// zero (0/0 -> 0); otherwise a statistic <= 0 cannot normalise (the caller reports it)
// rather than giving inf or flipping signs.
enum class set_division { divide, keep, all_nan, invalid };

MEMLOC_HD inline set_division set_division_for(bool any_nan, bool all_zero, double statistic) noexcept {
  if (any_nan) return set_division::all_nan;
  if (all_zero) return set_division::keep;
  return statistic > 0.0 ? set_division::divide : set_division::invalid;
}

MEMLOC_HD inline double divided(set_division division, double value, double statistic) noexcept {
  if (division == set_division::divide) return value / statistic;
  if (division == set_division::all_nan) return NAN;
  return value;
}

// Doubles as unsigned keys in the same order (the sign bit flipped for positives, every
// bit for negatives), so that exact minima and maxima of a set, whatever the order of
// reduction, are integer atomics. -0 is taken as +0 so that the two zeros tie.
MEMLOC_HD inline std::uint64_t order_preserving_bits64(double value) noexcept {
  const double canonical = value + 0.0;
  std::uint64_t bits;
  std::memcpy(&bits, &canonical, sizeof bits);
  return (bits & 0x8000000000000000ull) ? ~bits : (bits | 0x8000000000000000ull);
}

MEMLOC_HD inline double value_from_order_preserving_bits64(std::uint64_t ordered) noexcept {
  const std::uint64_t bits = (ordered & 0x8000000000000000ull) ? (ordered & 0x7fffffffffffffffull) : ~ordered;
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// ---- view-pair distances --------------------------------------------------------------
// Each distance is a per-element term summed over features, then a finishing step; the
// angular distance needs a second sum. Distances of normalised vectors are computed from
// the difference of the normalised vectors rather than from their dot product: 1 - cos and
// arccos(cos) lose all precision near cos = 1 in fp32, while |â - b̂| keeps it
// (1 - cos = |â - b̂|²/2 and the angle is 2·atan2(|â - b̂|, |â + b̂|)).
// A zero vector has inverse norm 0; it normalises to the zero vector, and its cosine with
// anything is taken as 0 (cosine distance 1, angular distance 0.5).

struct l2_distance_op {
  static constexpr bool needs_inverse_norms = false;
  static constexpr bool needs_second_sum = false;
  static constexpr bool gram_form = true;
  template <class W>
  MEMLOC_HD static W term(W a, W b, W, W) noexcept {
    const W d = a - b;
    return d * d;
  }
  template <class W>
  MEMLOC_HD static W second_term(W, W, W, W) noexcept { return W(0); }
  template <class W>
  MEMLOC_HD static double finish(double sum, double, W, W) noexcept { return std::sqrt(sum); }
};

struct l1_distance_op {
  static constexpr bool needs_inverse_norms = false;
  static constexpr bool needs_second_sum = false;
  static constexpr bool gram_form = false;
  template <class W>
  MEMLOC_HD static W term(W a, W b, W, W) noexcept {
    const W d = a - b;
    return d < W(0) ? -d : d;
  }
  template <class W>
  MEMLOC_HD static W second_term(W, W, W, W) noexcept { return W(0); }
  template <class W>
  MEMLOC_HD static double finish(double sum, double, W, W) noexcept { return sum; }
};

// Squared difference of the normalised vectors, shared by the three distances below.
template <class W>
MEMLOC_HD inline W normalized_difference_term(W a, W b, W inv_norm_a, W inv_norm_b) noexcept {
  const W d = a * inv_norm_a - b * inv_norm_b;
  return d * d;
}

struct l2_normalized_distance_op {
  static constexpr bool needs_inverse_norms = true;
  static constexpr bool needs_second_sum = false;
  static constexpr bool gram_form = true;
  template <class W>
  MEMLOC_HD static W term(W a, W b, W inv_a, W inv_b) noexcept {
    return normalized_difference_term(a, b, inv_a, inv_b);
  }
  template <class W>
  MEMLOC_HD static W second_term(W, W, W, W) noexcept { return W(0); }
  template <class W>
  MEMLOC_HD static double finish(double sum, double, W, W) noexcept { return std::sqrt(sum); }
};

struct cosine_distance_op {
  static constexpr bool needs_inverse_norms = true;
  static constexpr bool needs_second_sum = false;
  static constexpr bool gram_form = true;
  template <class W>
  MEMLOC_HD static W term(W a, W b, W inv_a, W inv_b) noexcept {
    return normalized_difference_term(a, b, inv_a, inv_b);
  }
  template <class W>
  MEMLOC_HD static W second_term(W, W, W, W) noexcept { return W(0); }
  template <class W>
  MEMLOC_HD static double finish(double squared_difference, double, W inv_a, W inv_b) noexcept {
    if (inv_a == W(0) || inv_b == W(0)) return 1.0;
    return 0.5 * squared_difference;
  }
};

// Not in Gram form: |â + b̂|² = 4 - |â - b̂|² cancels near antipodal vectors, where the
// angle depends on it.
struct angular_distance_op {
  static constexpr bool needs_inverse_norms = true;
  static constexpr bool needs_second_sum = true;
  static constexpr bool gram_form = false;
  template <class W>
  MEMLOC_HD static W term(W a, W b, W inv_a, W inv_b) noexcept {
    return normalized_difference_term(a, b, inv_a, inv_b);
  }
  template <class W>
  MEMLOC_HD static W second_term(W a, W b, W inv_a, W inv_b) noexcept {
    const W s = a * inv_a + b * inv_b;
    return s * s;
  }
  template <class W>
  MEMLOC_HD static double finish(double squared_difference, double squared_sum, W inv_a, W inv_b) noexcept {
    if (inv_a == W(0) || inv_b == W(0)) return 0.5;
    return 2.0 * std::atan2(std::sqrt(squared_difference), std::sqrt(squared_sum)) / 3.14159265358979323846;
  }
};

// The Gram form (the host's all-pairs alignment, for the distances with gram_form): the
// squared difference of views i and j from the products of the views centred on view 0,
// c_v = y_v - y_0 (y the view, or the normalised view): |c_i - c_j|² = g_ii + g_jj - 2 g_ij.
// Its rounding error is a small multiple of the working type's epsilon times g_ii + g_jj, so
// it is taken only when the result is at least a quarter of that; otherwise (views i and j
// close together but far from view 0, or a NaN) the pair is summed directly.
inline constexpr double gram_min_fraction = 0.25;

MEMLOC_HD inline double squared_difference_from_gram(double g_ii, double g_jj, double g_ij) noexcept {
  return g_ii + g_jj - 2.0 * g_ij;
}

MEMLOC_HD inline bool gram_difference_is_accurate(double squared_difference, double g_ii, double g_jj) noexcept {
  return squared_difference >= gram_min_fraction * (g_ii + g_jj);
}

// 0 marks a zero vector; a NaN norm stays NaN so that NaN features make the distance NaN
// rather than passing for a zero vector.
template <class W>
MEMLOC_HD inline W inverse_norm(double squared_norm) noexcept {
  if (squared_norm > 0.0) return static_cast<W>(1.0 / std::sqrt(squared_norm));
  return squared_norm == 0.0 ? W(0) : static_cast<W>(squared_norm);
}

template <class F>
decltype(auto) dispatch_distance(distance_kind kind, F&& f) {
  switch (kind) {
    case distance_kind::l2_normalized: return f(l2_normalized_distance_op{});
    case distance_kind::l1: return f(l1_distance_op{});
    case distance_kind::cosine: return f(cosine_distance_op{});
    case distance_kind::angular: return f(angular_distance_op{});
    case distance_kind::l2: break;
  }
  return f(l2_distance_op{});
}

// Number of view pairs a sample's alignment averages over.
MEMLOC_HD inline std::int64_t pair_count(pair_mode mode, std::int64_t views) noexcept {
  return mode == pair_mode::all_pairs ? views * (views - 1) / 2 : views - 1;
}

}  // namespace memloc::detail
