#pragma once

// The layout strings of the command (`memloc unitmem --layout`) and the Python bindings: one
// letter per axis of an array, n samples, v views, u units, s positions, or h and w (the
// positions of a map as two adjacent axes). They are read against the array's own strides,
// so a sliced or permuted array maps onto an activations_view without a copy when the
// letters allow it. Problems come back as text rather than an exception, because the
// command reports them as usage errors and the bindings as ValueError.

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "../view.hpp"

namespace memloc::detail {

// Extents and strides (in elements) of (samples, views, units, positions); an axis the
// letters do not name has extent 1.
struct activation_axes {
  std::array<index_t, 4> extents{1, 1, 1, 1};
  std::array<index_t, 4> strides{0, 0, 0, 0};
};

// What is wrong with `letters` for an array of `rank` axes, or "" when nothing is.
// `argument` names the option or parameter in the text ("--layout", "layout").
inline std::string layout_letters_problem(const std::string& argument, const std::string& letters, std::size_t rank) {
  const std::string quoted = "\"" + letters + "\"";
  for (const char c : letters) {
    if (std::string("nvushw").find(c) == std::string::npos) {
      return argument + " letters must be among n, v, u, s, h, w, got " + quoted;
    }
    if (letters.find(c) != letters.rfind(c)) return argument + " names axis " + std::string(1, c) + " twice, got " + quoted;
  }
  const auto has = [&](char c) { return letters.find(c) != std::string::npos; };
  if (!has('n') || !has('u')) return argument + " must name the samples (n) and units (u) axes, got " + quoted;
  if (has('h') != has('w')) return argument + " needs both h and w, or neither, got " + quoted;
  if (has('s') && has('h')) return argument + " names positions once: s, or h and w, got " + quoted;
  if (has('h') && letters.find('w') != letters.find('h') + 1) {
    return argument + " needs w right after h (positions h*w read as one axis), got " + quoted;
  }
  if (letters.size() != rank) {
    return argument + " " + quoted + " names " + std::to_string(letters.size()) + " axes, the array has " +
           std::to_string(rank);
  }
  return {};
}

// The axes of an array with `shape` and `strides` read through valid `letters` (see
// layout_letters_problem). Fails, with `problem` set, only when h and w cannot be read as
// one positions axis: that needs stride(h) == extent(w) * stride(w).
inline activation_axes map_layout_letters(const std::string& argument, const std::string& letters,
                                          const std::vector<index_t>& shape, const std::vector<index_t>& strides,
                                          std::string& problem) {
  activation_axes axes;
  const auto slot = [](char c) -> int {
    switch (c) {
      case 'n': return 0;
      case 'v': return 1;
      case 'u': return 2;
      default: return 3;
    }
  };
  for (std::size_t a = 0; a < letters.size(); ++a) {
    const char c = letters[a];
    if (c == 'h' || c == 'w') continue;
    axes.extents[static_cast<std::size_t>(slot(c))] = shape[a];
    axes.strides[static_cast<std::size_t>(slot(c))] = strides[a];
  }
  const auto h = letters.find('h');
  if (h != std::string::npos) {
    const index_t height = shape[h], width = shape[h + 1];
    axes.extents[3] = height * width;
    axes.strides[3] = width == 1 ? strides[h] : strides[h + 1];
    if (height > 1 && width > 1 && strides[h] != width * strides[h + 1]) {
      problem = argument + " " + "\"" + letters + "\": axes h and w must be readable as one positions axis (stride of h == " +
                std::to_string(width) + " * stride of w = " + std::to_string(width * strides[h + 1]) + " elements), got " +
                std::to_string(strides[h]) + "; make the array contiguous in h and w first";
    }
  }
  // A single position is never stepped over, so its stride carries no meaning.
  if (axes.extents[3] == 1) axes.strides[3] = 0;
  return axes;
}

}  // namespace memloc::detail
