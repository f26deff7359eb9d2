#pragma once

// Per-sample alignment on the host: the mean distance between a sample's views over the
// chosen pairs. A sample's V views are first gathered into a contiguous fp32 block, which
// then stays in cache while every pair is compared.

#include <cstdint>
#include <vector>

#include "../../exec.hpp"
#include "../../options.hpp"
#include "../../view.hpp"
#include "../formulas.hpp"
#include "parallel.hpp"

namespace memloc::detail::host {

// Sums term(i) for i in [0, n): fp32 lanes within blocks of 1024 terms and fp64 across
// blocks, which keeps 49 344-feature sums within ~1e-6 relative without fp64 throughput.
template <class Term>
double blocked_sum(index_t n, Term&& term) noexcept {
  constexpr index_t block = 1024;
  double total = 0.0;
  for (index_t start = 0; start < n; start += block) {
    const index_t end = start + block < n ? start + block : n;
    float lanes[16] = {};
    index_t i = start;
    for (; i + 16 <= end; i += 16) {
      for (int l = 0; l < 16; ++l) lanes[l] += term(i + l);
    }
    for (; i < end; ++i) lanes[0] += term(i);
    float block_sum = 0.0f;
    for (const float lane : lanes) block_sum += lane;
    total += static_cast<double>(block_sum);
  }
  return total;
}

template <class T, class Space>
void gather_views(const representations_view<const T, Space>& reps, index_t b, std::vector<float>& block) {
  const index_t views = reps.extent(1), features = reps.extent(2);
  block.resize(static_cast<std::size_t>(views * features));
  for (index_t v = 0; v < views; ++v) {
    const T* row = reps.data_handle() + reps.offset(b, v, 0);
    float* out = block.data() + v * features;
    if (reps.stride(2) == 1) {
      for (index_t k = 0; k < features; ++k) out[k] = load_as_float(row[k]);
    } else {
      for (index_t k = 0; k < features; ++k) out[k] = load_as_float(row[k * reps.stride(2)]);
    }
  }
}

template <class Op>
double pair_distance(const float* a, const float* b, index_t features, float inv_a, float inv_b) noexcept {
  const double first = blocked_sum(features, [&](index_t k) { return Op::term(a[k], b[k], inv_a, inv_b); });
  double second = 0.0;
  if constexpr (Op::needs_second_sum) {
    second = blocked_sum(features, [&](index_t k) { return Op::second_term(a[k], b[k], inv_a, inv_b); });
  }
  return Op::finish(first, second, inv_a, inv_b);
}

struct alignment_scratch {
  std::vector<float> block;
  std::vector<float> inverse_norms;
};

// out[b] = mean over the chosen view pairs of d(reps(b, i), reps(b, j)).
template <class T, class Space>
void alignment_distances(const host_exec& exec, const representations_view<const T, Space>& reps,
                         const alignment_options& options, double* out) {
  const index_t samples = reps.extent(0), views = reps.extent(1), features = reps.extent(2);
  const double pairs = static_cast<double>(pair_count(options.pairs, views));
  dispatch_distance(options.distance, [&](auto op) {
    using Op = decltype(op);
    parallel_for_with_scratch(
        exec, samples, [] { return alignment_scratch{}; },
        [&](index_t b, alignment_scratch& scratch) {
          gather_views(reps, b, scratch.block);
          const float* block = scratch.block.data();
          scratch.inverse_norms.assign(static_cast<std::size_t>(views), 0.0f);
          if constexpr (Op::needs_inverse_norms) {
            for (index_t v = 0; v < views; ++v) {
              const float* row = block + v * features;
              scratch.inverse_norms[static_cast<std::size_t>(v)] =
                  inverse_norm(blocked_sum(features, [&](index_t k) { return row[k] * row[k]; }));
            }
          }
          const float* inv = scratch.inverse_norms.data();
          double total = 0.0;
          if (options.pairs == pair_mode::all_pairs) {
            for (index_t i = 0; i < views; ++i)
              for (index_t j = i + 1; j < views; ++j)
                total += pair_distance<Op>(block + i * features, block + j * features, features, inv[i], inv[j]);
          } else {
            for (index_t j = 1; j < views; ++j)
              total += pair_distance<Op>(block, block + j * features, features, inv[0], inv[j]);
          }
          out[b] = total / pairs;
        });
  });
}

}  // namespace memloc::detail::host
