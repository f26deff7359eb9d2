#pragma once

// Chooses and launches the device μ fold for a range of batch rows (see
// memloc/kernels/fold.cuh): units-contiguous layouts take a thread per (row, unit), the
// others a lane group per (row, unit) sized by the positions, reading 16 bytes at a time
// when positions are contiguous and aligned.

#include <cstdint>
#include <type_traits>

#include "memloc/detail/cuda/launch.cuh"
#include "memloc/detail/cuda/runtime.cuh"
#include "memloc/detail/formulas.hpp"
#include "memloc/kernels/fold.cuh"
#include "memloc/options.hpp"
#include "memloc/view.hpp"

namespace memloc::detail::cuda {

template <class T>
bool positions_can_be_packed(const kernels::fold_rows<T>& rows) {
  constexpr index_t k = kernels::pack_elements<T>;
  if (rows.stride(3) != 1 || rows.extent(3) % k != 0) return false;
  if (rows.stride(0) % k != 0 || rows.stride(1) % k != 0 || rows.stride(2) % k != 0) return false;
  return reinterpret_cast<std::uintptr_t>(rows.data_handle()) % 16 == 0;
}

template <class Op, int Width, bool Packed, class T>
void launch_group_fold(const char* function, const kernels::fold_rows<T>& rows, double* totals, cudaStream_t stream) {
  launch(function, "the μ fold kernel", kernels::fold_position_groups<Op, Width, Packed, T>,
         kernels::grid_for(rows.extent(0) * rows.extent(2) * Width), kernels::block_threads, 0, stream, rows, totals);
}

template <class Op, bool Packed, class T>
void launch_group_fold_sized(const char* function, const kernels::fold_rows<T>& rows, double* totals,
                             cudaStream_t stream) {
  const index_t steps = Packed ? rows.extent(3) / kernels::pack_elements<T> : rows.extent(3);
  if (steps >= 24) {
    launch_group_fold<Op, 32, Packed>(function, rows, totals, stream);
  } else if (steps >= 3) {
    launch_group_fold<Op, 8, Packed>(function, rows, totals, stream);
  } else {
    launch_group_fold<Op, 1, Packed>(function, rows, totals, stream);
  }
}

// totals[(b - first_row) * units + u] for b in [first_row, first_row + rows).
template <class T, class Space>
void fold_totals(const char* function, const activations_view<T, Space>& batch, index_t first_row, index_t rows,
                 activation_transform transform, double* totals, cudaStream_t stream) {
  using E = std::remove_const_t<T>;
  const kernels::fold_rows<E> chunk(batch.data_handle() + first_row * batch.stride(0),
                                    {rows, batch.extent(1), batch.extent(2), batch.extent(3)}, batch.strides());
  dispatch_transform(transform, [&](auto op) {
    using Op = decltype(op);
    if (chunk.stride(2) == 1 && chunk.extent(2) > 1) {
      launch(function, "the μ fold kernel", kernels::fold_units_contiguous<Op, E>,
             kernels::grid_for(rows * chunk.extent(2)), kernels::block_threads, 0, stream, chunk, totals);
    } else if (positions_can_be_packed(chunk)) {
      launch_group_fold_sized<Op, true>(function, chunk, totals, stream);
    } else {
      launch_group_fold_sized<Op, false>(function, chunk, totals, stream);
    }
  });
}

}  // namespace memloc::detail::cuda
