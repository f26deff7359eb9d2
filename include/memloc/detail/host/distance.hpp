#pragma once

// Per-sample alignment on the host: the mean distance between a sample's views over the
// chosen pairs. A sample's V views are first gathered into a contiguous block of the
// working type (unless they already are one), which then stays in cache while every pair
// is compared.

#include <cstdint>
#include <vector>

#include "../../exec.hpp"
#include "../../options.hpp"
#include "../../view.hpp"
#include "../formulas.hpp"
#include "parallel.hpp"

namespace memloc::detail::host {

// Bytes in the widest vector register the build targets.
#if defined(__AVX512F__)
inline constexpr int vector_bytes = 64;
#elif defined(__AVX__)
inline constexpr int vector_bytes = 32;
#else
inline constexpr int vector_bytes = 16;
#endif

// Independent fp32 lanes per sum: four vector registers' worth, so that a sum is not one
// chain of dependent additions. 16 lanes are four SSE registers but a single AVX-512 one,
// with which -march=native ran at half the speed of the SSE2 build.
inline constexpr int sum_lanes = 4 * vector_bytes / 4;

// Sums first(i) (and second(i)) for i in [0, n): lanes of the working type within blocks
// of 1024 terms and fp64 across blocks, which keeps 49 344-feature fp32 sums within ~1e-6
// relative without paying for fp64 arithmetic.
template <class W, bool Two, class First, class Second>
void blocked_sums(index_t n, First&& first, Second&& second, double& first_total, double& second_total) noexcept {
  constexpr index_t block = 1024;
  first_total = 0.0;
  second_total = 0.0;
  for (index_t start = 0; start < n; start += block) {
    const index_t end = start + block < n ? start + block : n;
    W a[sum_lanes] = {}, b[sum_lanes] = {};
    index_t i = start;
    for (; i + sum_lanes <= end; i += sum_lanes) {
      for (int l = 0; l < sum_lanes; ++l) {
        a[l] += first(i + l);
        if constexpr (Two) b[l] += second(i + l);
      }
    }
    for (; i < end; ++i) {
      a[0] += first(i);
      if constexpr (Two) b[0] += second(i);
    }
    // The lanes are folded in halves: element-wise adds that vectorize, log2(lanes) deep,
    // where adding them one after another is a chain as long as the lane count, which at
    // D = 512 cost more than the block's sum itself.
    for (int width = sum_lanes / 2; width >= 1; width /= 2) {
      for (int l = 0; l < width; ++l) {
        a[l] += a[l + width];
        if constexpr (Two) b[l] += b[l + width];
      }
    }
    first_total += static_cast<double>(a[0]);
    second_total += static_cast<double>(b[0]);
  }
}

template <class W, class Term>
double blocked_sum(index_t n, Term&& term) noexcept {
  double total = 0.0, unused = 0.0;
  blocked_sums<W, false>(n, term, term, total, unused);
  return total;
}

template <class Op, class W>
double pair_distance(const W* a, const W* b, index_t features, W inv_a, W inv_b) noexcept {
  double first = 0.0, second = 0.0;
  blocked_sums<W, Op::needs_second_sum>(
      features, [&](index_t k) { return Op::term(a[k], b[k], inv_a, inv_b); },
      [&](index_t k) { return Op::second_term(a[k], b[k], inv_a, inv_b); }, first, second);
  return Op::finish(first, second, inv_a, inv_b);
}

// Row v of sample b as a contiguous array of the working type: the buffer itself when it
// already is one, else a converted copy in `block`.
template <class W, class T, class Space>
const W* view_row(const representations_view<const T, Space>& reps, index_t b, index_t v, W* block) noexcept {
  const index_t features = reps.extent(2);
  const T* row = reps.data_handle() + reps.offset(b, v, 0);
  if constexpr (std::is_same_v<T, W>) {
    if (reps.stride(2) == 1) return row;
  }
  W* out = block + v * features;
  for (index_t k = 0; k < features; ++k) out[k] = load_as<W>(row[k * reps.stride(2)]);
  return out;
}

// The next sample's bytes, read ahead one cache line per step of the Gram loops: the products
// of a sample take as long as reading it from memory, and without this the hardware
// prefetcher stops running ahead of a stream that no load is asking for.
struct read_ahead {
  const char* next = nullptr;
  const char* end = nullptr;
  void step() noexcept {
#if defined(__GNUC__)
    if (next < end) {
      __builtin_prefetch(next);
      next += 64;
    }
#endif
  }
};

// ---- all pairs through the Gram matrix ---------------------------------------------
// Every pair of V views summed directly is V(V-1)/2 passes of a subtraction, a multiply and
// an add over two rows. The Gram form (formulas.hpp) instead loads each centred row once per
// tile of rows and needs one multiply-add per product, (V-1)V/2 products; centring on view 0
// keeps the products of the size of the distances, and the pairs where they still cancel are
// summed directly. Written with the vector extensions of GCC and Clang: the tile's sums must
// stay in registers, which GCC 12 did not do for plain loops over pairs.
// Sums the upper triangle of a Gram matrix (gram_upper below), for one instruction set.
template <class W>
using gram_function = void (*)(const W* const*, index_t, index_t, double*, read_ahead&) noexcept;

#if defined(__GNUC__)
#define MEMLOC_HOST_GRAM 1

// A tile of 3 x 3 sums plus 6 rows' vectors fits the 16 vector registers of SSE2 and AVX,
// and 3 divides the 9 centred rows of 10 views; 4 x 4 under AVX-512 summed 78 products
// where 45 were needed, and ran slower.
inline constexpr int gram_tile = 3;

// Vectors of the working type, one specialisation per type and width: GCC ignores
// vector_size on a dependent type or size. `in_rows` reads the centred rows, written as
// elements (hence may_alias) at 64-byte aligned addresses: through memcpy GCC 12 copied
// 32-byte vectors via the stack and kept the tile's sums there, and Clang does not honour a
// lowered alignment on a vector type.
template <class W, int Bytes>
struct gram_vector;
#define MEMLOC_GRAM_VECTOR(W, BYTES)                                          \
  template <>                                                                 \
  struct gram_vector<W, BYTES> {                                              \
    using type = W __attribute__((vector_size(BYTES)));                       \
    using in_rows = W __attribute__((vector_size(BYTES), may_alias));         \
    static constexpr index_t lanes = BYTES / static_cast<index_t>(sizeof(W)); \
  };
MEMLOC_GRAM_VECTOR(float, 16)
MEMLOC_GRAM_VECTOR(float, 32)
MEMLOC_GRAM_VECTOR(float, 64)
MEMLOC_GRAM_VECTOR(double, 16)
MEMLOC_GRAM_VECTOR(double, 32)
MEMLOC_GRAM_VECTOR(double, 64)
#undef MEMLOC_GRAM_VECTOR

// Rows start at 64-byte boundaries and are zero-padded to a multiple of 64 bytes, the widest
// vector, whichever width runs.
inline constexpr std::size_t gram_row_alignment = 64;
template <class W>
inline constexpr index_t gram_row_multiple = static_cast<index_t>(gram_row_alignment / sizeof(W));

template <class W>
W* aligned_for_gram(W* p) noexcept {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  return p + (gram_row_alignment - address % gram_row_alignment) % gram_row_alignment / sizeof(W);
}

// Adds the products of rows a[p] and b[q] over features [begin, end) (a multiple of the
// vector width, the rows zero-padded to it) to g[p * ld + q]. On a diagonal tile a == b and
// only q >= p is summed. Always inlined, so that it is compiled for the instruction set of
// the function that calls it (see gram_upper_avx2).
template <int Bytes, bool Diagonal, class W>
[[gnu::always_inline]] inline void gram_tile_sums(const W* const* a, const W* const* b, index_t begin, index_t end,
                                                  double* g, index_t ld, read_ahead& ahead) noexcept {
  using vec = typename gram_vector<W, Bytes>::type;
  using in_rows = typename gram_vector<W, Bytes>::in_rows;
  constexpr index_t lanes = gram_vector<W, Bytes>::lanes;
  constexpr int T = gram_tile;
  vec sums[T][T] = {};
  for (index_t k = begin; k < end; k += lanes) {
    ahead.step();
    vec x[T], y[T];
    for (int p = 0; p < T; ++p) x[p] = *reinterpret_cast<const in_rows*>(a[p] + k);
    if constexpr (!Diagonal) {
      for (int q = 0; q < T; ++q) y[q] = *reinterpret_cast<const in_rows*>(b[q] + k);
    }
    for (int p = 0; p < T; ++p) {
      for (int q = Diagonal ? p : 0; q < T; ++q) sums[p][q] += x[p] * (Diagonal ? x[q] : y[q]);
    }
  }
  for (int p = 0; p < T; ++p) {
    for (int q = Diagonal ? p : 0; q < T; ++q) {
      W total = W(0);
      for (index_t l = 0; l < lanes; ++l) total += sums[p][q][l];
      g[p * ld + q] += static_cast<double>(total);
    }
  }
}

// g (m_pad x m_pad, m_pad a multiple of the tile) = the upper triangle of the products of
// rows[0 .. m_pad), each padded_features long. Blocks of working-type sums, added in fp64
// across blocks, hold 64 terms per lane, as many as the direct sums' fp32 lanes do,
// whatever the vector width.
template <int Bytes, class W>
[[gnu::always_inline]] inline void gram_upper(const W* const* rows, index_t m_pad, index_t padded_features, double* g,
                                              read_ahead& ahead) noexcept {
  constexpr int T = gram_tile;
  constexpr index_t block = 64 * gram_vector<W, Bytes>::lanes;
  for (index_t i = 0; i < m_pad * m_pad; ++i) g[i] = 0.0;
  for (index_t start = 0; start < padded_features; start += block) {
    const index_t end = start + block < padded_features ? start + block : padded_features;
    for (index_t ti = 0; ti < m_pad; ti += T) {
      gram_tile_sums<Bytes, true>(rows + ti, rows + ti, start, end, g + ti * m_pad + ti, m_pad, ahead);
      for (index_t tj = ti + T; tj < m_pad; tj += T)
        gram_tile_sums<Bytes, false>(rows + ti, rows + tj, start, end, g + ti * m_pad + tj, m_pad, ahead);
    }
  }
}

template <class W>
void gram_upper_build_isa(const W* const* rows, index_t m_pad, index_t padded_features, double* g,
                          read_ahead& ahead) noexcept {
  gram_upper<vector_bytes>(rows, m_pad, padded_features, g, ahead);
}

// A build for baseline x86-64 (SSE2 only, the default) still runs the products with AVX2
// and FMA where the CPU has them: eight lanes and one instruction per multiply-add, where
// SSE2 has four lanes and two. Only this function is compiled for AVX2; the CPU is asked
// once per call of the alignment.
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__AVX2__)
#define MEMLOC_HOST_GRAM_AVX2 1
template <class W>
__attribute__((target("avx2,fma"))) void gram_upper_avx2(const W* const* rows, index_t m_pad, index_t padded_features,
                                                         double* g, read_ahead& ahead) noexcept {
  gram_upper<32>(rows, m_pad, padded_features, g, ahead);
}
#endif

template <class W>
gram_function<W> gram_for_this_cpu() noexcept {
#if defined(MEMLOC_HOST_GRAM_AVX2)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return gram_upper_avx2<W>;
#endif
  return gram_upper_build_isa<W>;
}

inline index_t round_up(index_t n, index_t multiple) noexcept { return (n + multiple - 1) / multiple * multiple; }
#endif

template <class W>
struct alignment_scratch {
  std::vector<W> block;
  std::vector<const W*> rows;
  std::vector<W> inverse_norms;
  std::vector<W> centred;  // views 1.. minus view 0, padded, from a 64-byte boundary; then a zero row
  std::vector<const W*> centred_rows;
  std::vector<double> gram;
};

// Mean over all pairs i < j of the sample's views, through the Gram matrix of the views
// centred on view 0 (normalised first when the distance normalises), except for the pairs
// where it would cancel.
// Every pair i < j summed directly, in the order the Gram form's totals are added too.
template <class Op, class W>
double all_pairs_direct(const W* const* rows, const W* inv, index_t views, index_t features) noexcept {
  double total = 0.0;
  for (index_t i = 0; i < views; ++i)
    for (index_t j = i + 1; j < views; ++j) total += pair_distance<Op>(rows[i], rows[j], features, inv[i], inv[j]);
  return total;
}

template <class Op, class W>
double all_pairs_from_gram(const W* const* rows, const W* inv, index_t views, index_t features,
                           alignment_scratch<W>& scratch, gram_function<W> gram, read_ahead ahead) noexcept {
#if defined(MEMLOC_HOST_GRAM)
  const index_t m = views - 1;
  const index_t m_pad = round_up(m, gram_tile);
  const index_t padded = round_up(features, gram_row_multiple<W>);
  W* centred = aligned_for_gram(scratch.centred.data());
  const W* zero_row = centred + m * padded;
  const W one = W(1);
  const W inv0 = Op::needs_inverse_norms ? inv[0] : one;
  for (index_t v = 1; v < views; ++v) {
    W* out = centred + (v - 1) * padded;
    const W* row = rows[v];
    const W inv_v = Op::needs_inverse_norms ? inv[v] : one;
    // The same rounding as the direct term's a * inv_a - b * inv_b.
    if constexpr (Op::needs_inverse_norms) {
      for (index_t k = 0; k < features; ++k) out[k] = row[k] * inv_v - rows[0][k] * inv0;
    } else {
      for (index_t k = 0; k < features; ++k) out[k] = row[k] - rows[0][k];
    }
    for (index_t k = features; k < padded; ++k) out[k] = W(0);
    scratch.centred_rows[static_cast<std::size_t>(v - 1)] = out;
  }
  for (index_t v = m; v < m_pad; ++v) scratch.centred_rows[static_cast<std::size_t>(v)] = zero_row;
  double* g = scratch.gram.data();
  gram(scratch.centred_rows.data(), m_pad, padded, g, ahead);
  double total = 0.0;
  for (index_t i = 0; i < views; ++i) {
    for (index_t j = i + 1; j < views; ++j) {
      const double g_jj = g[(j - 1) * m_pad + (j - 1)];
      if (i == 0) {
        total += Op::finish(g_jj, 0.0, inv[0], inv[j]);  // |c_j|², summed directly
        continue;
      }
      const double g_ii = g[(i - 1) * m_pad + (i - 1)];
      const double squared = squared_difference_from_gram(g_ii, g_jj, g[(i - 1) * m_pad + (j - 1)]);
      total += gram_difference_is_accurate(squared, g_ii, g_jj)
                   ? Op::finish(squared, 0.0, inv[i], inv[j])
                   : pair_distance<Op>(rows[i], rows[j], features, inv[i], inv[j]);
    }
  }
  return total;
#else
  (void)scratch;
  (void)gram;
  (void)ahead;
  return all_pairs_direct<Op>(rows, inv, views, features);
#endif
}

// out[b] = mean over the chosen view pairs of d(reps(b, i), reps(b, j)).
template <class T, class Space>
void alignment_distances(const host_exec& exec, const representations_view<const T, Space>& reps,
                         const alignment_options& options, double* out) {
  using W = working_t<T>;
  const index_t samples = reps.extent(0), views = reps.extent(1), features = reps.extent(2);
  const double pairs = static_cast<double>(pair_count(options.pairs, views));
  alignment_scratch<W> prototype;
  prototype.block.resize(static_cast<std::size_t>(views * features));
  prototype.rows.resize(static_cast<std::size_t>(views));
  prototype.inverse_norms.resize(static_cast<std::size_t>(views));
#if defined(MEMLOC_HOST_GRAM)
  if (options.pairs == pair_mode::all_pairs && views > 1) {
    const index_t m_pad = round_up(views - 1, gram_tile);
    const index_t padded = round_up(features, gram_row_multiple<W>);
    prototype.centred.resize(static_cast<std::size_t>(views * padded + gram_row_multiple<W>));
    prototype.centred_rows.resize(static_cast<std::size_t>(m_pad));
    prototype.gram.resize(static_cast<std::size_t>(m_pad * m_pad));
  }
#endif
  // A sample whose views are one contiguous run of memory is read ahead while the one
  // before it is computed (the last sample's "next" is past the end and left alone).
  const bool contiguous = reps.stride(2) == 1 && (views == 1 || reps.stride(1) == features);
  auto next_sample = [&](index_t b) {
    read_ahead ahead;
    if (contiguous && b + 1 < samples) {
      ahead.next = reinterpret_cast<const char*>(reps.data_handle() + reps.offset(b + 1, 0, 0));
      ahead.end = ahead.next + views * features * static_cast<index_t>(sizeof(T));
    }
    return ahead;
  };
#if defined(MEMLOC_HOST_GRAM)
  const gram_function<W> gram = gram_for_this_cpu<W>();
#else
  const gram_function<W> gram = nullptr;
#endif
  dispatch_distance(options.distance, [&](auto op) {
    using Op = decltype(op);
    parallel_for_with_scratch(exec, samples, prototype, [&](index_t b, alignment_scratch<W>& scratch) {
      const W** rows = scratch.rows.data();
      W* inv = scratch.inverse_norms.data();
      for (index_t v = 0; v < views; ++v) {
        rows[v] = view_row(reps, b, v, scratch.block.data());
        inv[v] = W(0);
        if constexpr (Op::needs_inverse_norms) {
          const W* row = rows[v];
          inv[v] = inverse_norm<W>(blocked_sum<W>(features, [&](index_t k) { return row[k] * row[k]; }));
        }
      }
      double total = 0.0;
      if (options.pairs == pair_mode::all_pairs) {
        if constexpr (Op::gram_form) {
          if (views > 1) total = all_pairs_from_gram<Op>(rows, inv, views, features, scratch, gram, next_sample(b));
        } else {
          total = all_pairs_direct<Op>(rows, inv, views, features);
        }
      } else {
        for (index_t j = 1; j < views; ++j) total += pair_distance<Op>(rows[0], rows[j], features, inv[0], inv[j]);
      }
      out[b] = total / pairs;
    });
  });
}

}  // namespace memloc::detail::host
