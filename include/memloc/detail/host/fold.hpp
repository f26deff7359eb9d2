#pragma once

// The host μ fold: for every sample of a batch and every unit, the sum of the (transformed)
// activations over the sample's views and positions. Every activation is read once.
// Values are summed in the working type (fp64 for double inputs, fp32 otherwise).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "../../exec.hpp"
#include "../../options.hpp"
#include "../../view.hpp"
#include "../formulas.hpp"
#include "parallel.hpp"

namespace memloc::detail::host {

// Sums `count` transformed values that lie `stride` apart with 8 independent lanes: one
// dependency chain would cap the loop far below memory bandwidth.
template <class Op, class W, class T>
double strided_transformed_sum(const T* p, index_t count, index_t stride) noexcept {
  W lanes[8] = {};
  index_t i = 0;
  for (; i + 8 <= count; i += 8) {
    for (int l = 0; l < 8; ++l) lanes[l] += Op::apply(load_as<W>(p[(i + l) * stride]));
  }
  double total = 0.0;
  for (; i < count; ++i) total += static_cast<double>(Op::apply(load_as<W>(p[i * stride])));
  for (const W lane : lanes) total += static_cast<double>(lane);
  return total;
}

// Values summed per register block: 32 fp32 lanes are 8 SSE registers, so the block's
// running sums never leave registers while `rows` streams are read into them. Summing into a
// scratch array instead costs a load and a store of the scratch for every value read.
inline constexpr index_t fold_block = 32;

// out[k] = sum over r in [0, rows) of transform(first[r * row_stride + k]), k in [0, width),
// added in row order. `width` is a compile-time constant on the hot path so the block stays
// in registers; the tail of a row passes a smaller runtime width.
template <class Op, class W, index_t Width, class T>
void add_rows_in_registers(const T* first, index_t row_stride, index_t rows, W* out) noexcept {
  W lanes[Width];
  for (index_t k = 0; k < Width; ++k) lanes[k] = Op::apply(load_as<W>(first[k]));
  for (index_t r = 1; r < rows; ++r) {
    const T* row = first + r * row_stride;
    for (index_t k = 0; k < Width; ++k) lanes[k] += Op::apply(load_as<W>(row[k]));
  }
  for (index_t k = 0; k < Width; ++k) out[k] = lanes[k];
}

// The same for bf16 without a transform, read as 32-bit pairs: on a little-endian machine a
// pair's second value is already in place as fp32 bits once the low half is masked off, and
// the first is the pair shifted left by 16. That is one operation per value, where widening
// each 16-bit value on its own takes an unpack and a shift. Even and odd elements are summed
// apart and interleaved once at the end, so every element is still added in row order.
// Written with the vector extensions of GCC and Clang: from plain loops GCC 12 made code that
// spilled the sums and reloaded them at misaligned offsets, slower than the widening it saves.
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MEMLOC_HOST_BF16_PAIRS 1
using u32x4 = std::uint32_t __attribute__((vector_size(16)));
using f32x4 = float __attribute__((vector_size(16)));

template <index_t Width>
void add_bf16_rows_in_registers(const bfloat16* first, index_t row_stride, index_t rows, float* out) noexcept {
  static_assert(Width % 8 == 0, "bf16 values are read 8 at a time");
  constexpr index_t vectors = Width / 8;
  f32x4 even[vectors], odd[vectors];
  for (index_t v = 0; v < vectors; ++v) {
    u32x4 bits;
    std::memcpy(&bits, first + 8 * v, sizeof bits);
    even[v] = reinterpret_cast<f32x4>(bits << 16);
    odd[v] = reinterpret_cast<f32x4>(bits & 0xFFFF0000u);
  }
  for (index_t r = 1; r < rows; ++r) {
    const bfloat16* row = first + r * row_stride;
    for (index_t v = 0; v < vectors; ++v) {
      u32x4 bits;
      std::memcpy(&bits, row + 8 * v, sizeof bits);
      even[v] += reinterpret_cast<f32x4>(bits << 16);
      odd[v] += reinterpret_cast<f32x4>(bits & 0xFFFF0000u);
    }
  }
  for (index_t v = 0; v < vectors; ++v) {
    for (int j = 0; j < 4; ++j) {
      out[8 * v + 2 * j] = even[v][j];
      out[8 * v + 2 * j + 1] = odd[v][j];
    }
  }
}
#endif

template <class Op, class W, class T>
void add_rows(const T* first, index_t row_stride, index_t rows, index_t width, W* out) noexcept {
  index_t k = 0;
#if defined(MEMLOC_HOST_BF16_PAIRS)
  if constexpr (std::is_same_v<T, bfloat16> && std::is_same_v<Op, transform_op<activation_transform::none>>) {
    for (; k + fold_block <= width; k += fold_block) {
      add_bf16_rows_in_registers<fold_block>(first + k, row_stride, rows, out + k);
    }
  }
#endif
  for (; k + fold_block <= width; k += fold_block) {
    add_rows_in_registers<Op, W, fold_block>(first + k, row_stride, rows, out + k);
  }
  for (; k < width; ++k) {
    W sum = Op::apply(load_as<W>(first[k]));
    for (index_t r = 1; r < rows; ++r) sum += Op::apply(load_as<W>(first[r * row_stride + k]));
    out[k] = sum;
  }
}

// Views first: add the V contiguous [units x positions] slabs of a sample element-wise,
// then reduce each unit's positions. This reads each view's slab as one sequential stream,
// which ran 2-3x faster than a per-(sample, unit) loop (see ../shared/perf-goals.md).
template <class Op, class W, class T>
void fold_sample_slabs(const T* sample, index_t views, index_t view_stride, index_t units, index_t positions, W* acc,
                       double* totals) noexcept {
  add_rows<Op>(sample, view_stride, views, units * positions, acc);
  if (positions == 1) {
    for (index_t u = 0; u < units; ++u) totals[u] = static_cast<double>(acc[u]);
    return;
  }
  if (positions < 32) {
    // Short rows: a call per unit would cost more than the few additions it makes. Four
    // units at a time give four independent chains, each still summed in position order.
    index_t u = 0;
    for (; u + 4 <= units; u += 4) {
      const W* r = acc + u * positions;
      W s0 = r[0], s1 = r[positions], s2 = r[2 * positions], s3 = r[3 * positions];
      for (index_t p = 1; p < positions; ++p) {
        s0 += r[p];
        s1 += r[positions + p];
        s2 += r[2 * positions + p];
        s3 += r[3 * positions + p];
      }
      totals[u] = static_cast<double>(s0);
      totals[u + 1] = static_cast<double>(s1);
      totals[u + 2] = static_cast<double>(s2);
      totals[u + 3] = static_cast<double>(s3);
    }
    for (; u < units; ++u) {
      const W* r = acc + u * positions;
      W sum = r[0];
      for (index_t p = 1; p < positions; ++p) sum += r[p];
      totals[u] = static_cast<double>(sum);
    }
    return;
  }
  // Long rows: eight independent lanes, as in the strided fallback, keep the adds from one
  // dependency chain; this ran as fast as Eigen's column sums (docs/design.md, Dependencies).
  using identity = transform_op<activation_transform::none>;
  for (index_t u = 0; u < units; ++u) totals[u] = strided_transformed_sum<identity, W>(acc + u * positions, positions, 1);
}

// Units contiguous (token-major, channels-last): every position is a row of U values, so
// rows are added element-wise, in the working type within a view and in fp64 across views.
template <class Op, class W, class T>
void fold_sample_rows(const T* sample, index_t views, index_t view_stride, index_t units, index_t positions,
                      index_t position_stride, W* row, double* totals) noexcept {
  for (index_t u = 0; u < units; ++u) totals[u] = 0.0;
  for (index_t v = 0; v < views; ++v) {
    add_rows<Op>(sample + v * view_stride, position_stride, positions, units, row);
    for (index_t u = 0; u < units; ++u) totals[u] += static_cast<double>(row[u]);
  }
}

// Any strides: one strided sum per (view, unit).
template <class Op, class W, class T, class Space>
void fold_sample_general(const activations_view<const T, Space>& batch, index_t b, double* totals) noexcept {
  const index_t views = batch.extent(1), units = batch.extent(2), positions = batch.extent(3);
  for (index_t u = 0; u < units; ++u) {
    double total = 0.0;
    for (index_t v = 0; v < views; ++v) {
      total += strided_transformed_sum<Op, W>(batch.data_handle() + batch.offset(b, v, u, 0), positions, batch.stride(3));
    }
    totals[u] = total;
  }
}

// How one batch is folded: which per-sample loop its strides allow, and the working-type
// scratch that loop needs.
template <class T, class Space>
struct fold_plan {
  const activations_view<const T, Space>& batch;
  bool slabs_contiguous, units_contiguous;

  explicit fold_plan(const activations_view<const T, Space>& b)
      : batch(b), slabs_contiguous(b.stride(3) == 1 && (b.stride(2) == b.extent(3) || b.extent(2) == 1)),
        units_contiguous(b.stride(2) == 1) {}

  index_t scratch_size() const noexcept {
    return slabs_contiguous ? batch.extent(2) * batch.extent(3) : (units_contiguous ? batch.extent(2) : 0);
  }

  // totals[u] = sum over views and positions of Op(batch(b, v, u, s)). Views and positions
  // are at least 1.
  template <class Op, class W>
  void fold_sample(index_t b, W* scratch, double* totals) const noexcept {
    const index_t views = batch.extent(1), units = batch.extent(2), positions = batch.extent(3);
    const T* sample = batch.data_handle() + b * batch.stride(0);
    if (slabs_contiguous) {
      fold_sample_slabs<Op>(sample, views, batch.stride(1), units, positions, scratch, totals);
    } else if (units_contiguous) {
      fold_sample_rows<Op>(sample, views, batch.stride(1), units, positions, batch.stride(3), scratch, totals);
    } else {
      fold_sample_general<Op, W>(batch, b, totals);
    }
  }
};

// totals[b * units + u] = sum over views v and positions s of transform(batch(b, v, u, s)).
template <class T, class Space>
void fold_totals(const host_exec& exec, const activations_view<const T, Space>& batch, activation_transform transform,
                 double* totals) {
  using W = working_t<T>;
  const index_t samples = batch.extent(0), views = batch.extent(1), units = batch.extent(2),
                positions = batch.extent(3);
  if (samples == 0 || units == 0) return;
  if (views == 0 || positions == 0) {
    for (index_t i = 0; i < samples * units; ++i) totals[i] = 0.0;
    return;
  }
  const fold_plan<T, Space> plan(batch);
  dispatch_transform(transform, [&](auto op) {
    using Op = decltype(op);
    parallel_for_with_scratch(exec, samples, std::vector<W>(static_cast<std::size_t>(plan.scratch_size())),
                              [&](index_t b, std::vector<W>& scratch) {
                                plan.template fold_sample<Op>(b, scratch.data(), totals + b * units);
                              });
  });
}

}  // namespace memloc::detail::host
