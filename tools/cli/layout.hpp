#pragma once

// What the axes of an activation file mean. A layout names the file's axes in order with
// the letters n (samples), v (views), u (units), s (positions), or h and w (positions as
// two adjacent axes): nvus is NCHW with views adjacent, vnus the same with samples adjacent
// inside each view, nvsu token-major, nvhwu channels-last, nvu a dense layer. The file is
// read in chunks along its first axis, which must be n or v; each chunk becomes an
// activations_view over the converted buffer without another copy.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <memloc/core.hpp>
#include <memloc/detail/layout_letters.hpp>

#include "usage_error.hpp"

namespace memloc::cli {

struct activation_layout {
  std::string letters;
  bool view_major = false;  // first axis v: each chunk holds some views of every sample
  index_t samples = 0, views = 1, units = 0, positions = 1;

  // The activations in a C-order buffer holding `rows` entries of the first axis.
  template <class T, class Space = host_space>
  activations_view<const T, Space> chunk(const T* data, index_t rows) const {
    std::vector<index_t> shape = shape_;
    shape[0] = rows;
    std::vector<index_t> strides(shape.size(), 1);
    for (std::size_t r = shape.size() - 1; r-- > 0;) strides[r] = strides[r + 1] * shape[r + 1];
    std::string problem;  // C-order h and w always merge
    const auto axes = detail::map_layout_letters("--layout", letters, shape, strides, problem);
    return activations_view<const T, Space>(data, axes.extents, axes.strides);
  }

  std::vector<index_t> shape_;
};

inline activation_layout parse_layout(const std::string& letters, const std::vector<index_t>& shape) {
  if (const auto problem = detail::layout_letters_problem("--layout", letters, shape.size()); !problem.empty()) {
    throw usage_error(problem);
  }
  if (letters[0] != 'n' && letters[0] != 'v') {
    throw usage_error("--layout must start with n or v (the file is read in chunks along its first axis), got \"" +
                      letters + "\"");
  }
  activation_layout layout;
  layout.letters = letters;
  layout.shape_ = shape;
  layout.view_major = letters[0] == 'v';
  std::string problem;
  const auto axes = detail::map_layout_letters("--layout", letters, shape, std::vector<index_t>(shape.size(), 0), problem);
  layout.samples = axes.extents[0];
  layout.views = axes.extents[1];
  layout.units = axes.extents[2];
  layout.positions = axes.extents[3];
  return layout;
}

}  // namespace memloc::cli
