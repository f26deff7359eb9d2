#pragma once

// Chooses and launches the device μ fold for a range of batch rows (see
// memloc/kernels/fold.cuh): units-contiguous layouts take a thread per (row, unit), the
// others a lane group per (row, unit) sized by the positions, reading 16 bytes at a time
// when positions are contiguous and aligned.

#include <cstdint>
#include <type_traits>

#include "memloc/detail/cuda/runtime.cuh"
#include "memloc/detail/formulas.hpp"
#include "memloc/kernels/fold.cuh"
#include "memloc/options.hpp"
#include "memloc/view.hpp"

namespace memloc::detail::cuda {

template <class T>
bool positions_can_be_packed(const T* first, const kernels::fold_geometry& g) {
  constexpr index_t k = kernels::pack_elements<T>;
  if (g.position_stride != 1 || g.positions % k != 0) return false;
  if (g.row_stride % k != 0 || g.view_stride % k != 0 || g.unit_stride % k != 0) return false;
  return reinterpret_cast<std::uintptr_t>(first) % 16 == 0;
}

template <class Op, int Width, bool Packed, class T>
void launch_group_fold(const T* first, const kernels::fold_geometry& g, double* totals, cudaStream_t stream) {
  const unsigned blocks = kernels::grid_for(g.rows * g.units * Width);
  kernels::fold_position_groups<Op, Width, Packed, T><<<blocks, kernels::block_threads, 0, stream>>>(first, g, totals);
}

template <class Op, bool Packed, class T>
void launch_group_fold_sized(const T* first, const kernels::fold_geometry& g, double* totals, cudaStream_t stream) {
  const index_t steps = Packed ? g.positions / kernels::pack_elements<T> : g.positions;
  if (steps >= 24) {
    launch_group_fold<Op, 32, Packed>(first, g, totals, stream);
  } else if (steps >= 3) {
    launch_group_fold<Op, 8, Packed>(first, g, totals, stream);
  } else {
    launch_group_fold<Op, 1, Packed>(first, g, totals, stream);
  }
}

// totals[(b - first_row) * units + u] for b in [first_row, first_row + rows).
template <class T, class Space>
void fold_totals(const char* function, const activations_view<T, Space>& batch, index_t first_row, index_t rows,
                 activation_transform transform, double* totals, cudaStream_t stream) {
  using E = std::remove_const_t<T>;
  const kernels::fold_geometry g{rows,           batch.extent(1), batch.extent(2), batch.extent(3),
                                 batch.stride(0), batch.stride(1), batch.stride(2), batch.stride(3)};
  const E* first = batch.data_handle() + first_row * batch.stride(0);
  dispatch_transform(transform, [&](auto op) {
    using Op = decltype(op);
    if (g.unit_stride == 1 && g.units > 1) {
      kernels::fold_units_contiguous<Op, E>
          <<<kernels::grid_for(rows * g.units), kernels::block_threads, 0, stream>>>(first, g, totals);
    } else if (positions_can_be_packed(first, g)) {
      launch_group_fold_sized<Op, true>(first, g, totals, stream);
    } else {
      launch_group_fold_sized<Op, false>(first, g, totals, stream);
    }
  });
  check_launch(function, "the μ fold kernel");
}

}  // namespace memloc::detail::cuda
