#pragma once

// The host μ fold: for every sample of a batch and every unit, the sum of the (transformed)
// activations over the sample's views and positions. Every activation is read once.
// Values are summed in the working type (fp64 for double inputs, fp32 otherwise).

#include <Eigen/Core>
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

// Views first: add the V contiguous [units x positions] slabs of a sample element-wise,
// then reduce each unit's positions. This reads each view's slab as one sequential stream,
// which ran 2-3x faster than a per-(sample, unit) loop (see ../shared/perf-goals.md).
template <class Op, class W, class T>
void fold_sample_slabs(const T* sample, index_t views, index_t view_stride, index_t units, index_t positions, W* acc,
                       double* totals) noexcept {
  const index_t n = units * positions;
  for (index_t i = 0; i < n; ++i) acc[i] = Op::apply(load_as<W>(sample[i]));
  for (index_t v = 1; v < views; ++v) {
    const T* view = sample + v * view_stride;
    for (index_t i = 0; i < n; ++i) acc[i] += Op::apply(load_as<W>(view[i]));
  }
  if (positions == 1) {
    for (index_t u = 0; u < units; ++u) totals[u] = static_cast<double>(acc[u]);
    return;
  }
  if (positions < 32) {
    // Short rows: a call per unit would cost more than the few additions it makes.
    for (index_t u = 0; u < units; ++u) {
      const W* r = acc + u * positions;
      W sum = r[0];
      for (index_t p = 1; p < positions; ++p) sum += r[p];
      totals[u] = static_cast<double>(sum);
    }
    return;
  }
  using columns = Eigen::Array<W, Eigen::Dynamic, Eigen::Dynamic>;
  const Eigen::Map<const columns> by_unit(acc, positions, units);
  for (index_t u = 0; u < units; ++u) totals[u] = static_cast<double>(by_unit.col(u).sum());
}

// Units contiguous (token-major, channels-last): every position is a row of U values, so
// rows are added element-wise, in the working type within a view and in fp64 across views.
template <class Op, class W, class T>
void fold_sample_rows(const T* sample, index_t views, index_t view_stride, index_t units, index_t positions,
                      index_t position_stride, W* row, double* totals) noexcept {
  Eigen::Map<Eigen::Array<W, Eigen::Dynamic, 1>> acc(row, units);
  Eigen::Map<Eigen::ArrayXd> total(totals, units);
  total.setZero();
  for (index_t v = 0; v < views; ++v) {
    acc.setZero();
    const T* view = sample + v * view_stride;
    for (index_t s = 0; s < positions; ++s) {
      const T* r = view + s * position_stride;
      for (index_t u = 0; u < units; ++u) row[u] += Op::apply(load_as<W>(r[u]));
    }
    total += acc.template cast<double>();
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
  const bool slabs_contiguous = batch.stride(3) == 1 && (batch.stride(2) == positions || units == 1);
  const bool units_contiguous = batch.stride(2) == 1;
  const index_t scratch_size = slabs_contiguous ? units * positions : (units_contiguous ? units : 0);
  dispatch_transform(transform, [&](auto op) {
    using Op = decltype(op);
    parallel_for_with_scratch(
        exec, samples, std::vector<W>(static_cast<std::size_t>(scratch_size)),
        [&](index_t b, std::vector<W>& scratch) {
          const T* sample = batch.data_handle() + b * batch.stride(0);
          double* out = totals + b * units;
          if (slabs_contiguous) {
            fold_sample_slabs<Op>(sample, views, batch.stride(1), units, positions, scratch.data(), out);
          } else if (units_contiguous) {
            fold_sample_rows<Op>(sample, views, batch.stride(1), units, positions, batch.stride(3), scratch.data(), out);
          } else {
            fold_sample_general<Op, W>(batch, b, out);
          }
        });
  });
}

}  // namespace memloc::detail::host
