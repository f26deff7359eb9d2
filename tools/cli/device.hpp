#pragma once

// The command's GPU path, compiled by nvcc in device.cu when the project is built with the
// CUDA backend (MEMLOC_COMMAND_CUDA); without it these say why --device cuda is refused.

#include <string>

#include "folds.hpp"

namespace memloc::cli {

// Empty when --device cuda can run; otherwise the reason, for the error message.
std::string cuda_problem();

unitmem_result fold_unitmem_on_device(const npy::npy_stream& acts, const activation_layout& layout,
                                      const unitmem_options& options, const sample_info& samples, index_t requested_rows);

void fold_alignment_on_device(const npy::npy_stream& f, const npy::npy_stream& g, const alignment_options& options,
                              point_result& point, index_t requested_rows);

#if !defined(MEMLOC_COMMAND_CUDA)
inline std::string cuda_problem() { return "this build of the memloc command has no CUDA backend (nvcc was not found)"; }
inline unitmem_result fold_unitmem_on_device(const npy::npy_stream&, const activation_layout&, const unitmem_options&,
                                             const sample_info&, index_t) {
  throw std::logic_error("fold_unitmem_on_device without CUDA");
}
inline void fold_alignment_on_device(const npy::npy_stream&, const npy::npy_stream&, const alignment_options&,
                                     point_result&, index_t) {
  throw std::logic_error("fold_alignment_on_device without CUDA");
}
#endif

}  // namespace memloc::cli
