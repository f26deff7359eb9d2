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

#include "arguments.hpp"

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
    auto stride_of = [&](char axis) -> index_t {
      const auto at = letters.find(axis);
      return at == std::string::npos ? 0 : strides[at];
    };
    auto extent_of = [&](char axis, index_t absent) -> index_t {
      const auto at = letters.find(axis);
      return at == std::string::npos ? absent : shape[at];
    };
    // Two position axes h, w are adjacent (checked when parsed): their combined stride is w's.
    const index_t position_stride = letters.find('s') != std::string::npos ? stride_of('s') : stride_of('w');
    return activations_view<const T, Space>(data,
                                     {extent_of('n', 1), extent_of('v', 1), extent_of('u', 1), positions},
                                     {stride_of('n'), stride_of('v'), stride_of('u'), positions > 1 ? position_stride : 0});
  }

  std::vector<index_t> shape_;
};

inline activation_layout parse_layout(const std::string& letters, const std::vector<index_t>& shape) {
  const std::string option = "layout";
  for (const char c : letters) {
    if (std::string("nvushw").find(c) == std::string::npos) {
      throw usage_error("--layout letters must be among n, v, u, s, h, w, got \"" + letters + "\"");
    }
    if (letters.find(c) != letters.rfind(c)) throw usage_error("--layout names axis " + std::string(1, c) + " twice");
  }
  const auto has = [&](char c) { return letters.find(c) != std::string::npos; };
  if (!has('n') || !has('u')) throw usage_error("--layout must name the samples (n) and units (u) axes, got \"" + letters + "\"");
  if (has('h') != has('w')) throw usage_error("--layout needs both h and w, or neither, got \"" + letters + "\"");
  if (has('s') && has('h')) throw usage_error("--layout names positions once: s, or h and w, got \"" + letters + "\"");
  if (has('h') && letters.find('w') != letters.find('h') + 1) {
    throw usage_error("--layout needs w right after h (positions h*w read as one axis), got \"" + letters + "\"");
  }
  if (letters[0] != 'n' && letters[0] != 'v') {
    throw usage_error("--layout must start with n or v (the file is read in chunks along its first axis), got \"" +
                      letters + "\"");
  }
  if (letters.size() != shape.size()) {
    throw usage_error("--layout \"" + letters + "\" names " + std::to_string(letters.size()) + " axes, the file has " +
                      std::to_string(shape.size()));
  }
  activation_layout layout;
  layout.letters = letters;
  layout.shape_ = shape;
  layout.view_major = letters[0] == 'v';
  const auto extent = [&](char c) { return shape[letters.find(c)]; };
  layout.samples = extent('n');
  layout.units = extent('u');
  if (has('v')) layout.views = extent('v');
  if (has('s')) layout.positions = extent('s');
  if (has('h')) layout.positions = extent('h') * extent('w');
  return layout;
}

}  // namespace memloc::cli
