#pragma once

// From Python array objects to memloc views without a copy: any DLPack or buffer-protocol
// producer arrives as a nanobind ndarray, whose strides memloc's strided views take as they
// are. The layout string says which axis is which (memloc/detail/layout_letters.hpp); a
// leading "(nv)" or "(vn)" reads one axis as samples x views, as forward hooks see a batch
// of augmented views.

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <memloc/core.hpp>
#include <memloc/detail/layout_letters.hpp>

#include "backends.hpp"

namespace memloc::python {

namespace nb = nanobind;

using any_array = nb::ndarray<nb::ro>;

// The array behind `object`, or a TypeError naming `argument` and what was given.
inline any_array as_array(nb::handle object, const char* argument) {
  any_array array;
  if (object.is_none() || !nb::try_cast(object, array, false)) {
    throw nb::type_error((std::string(argument) +
                          " must be an array (NumPy, PyTorch or any object with __dlpack__ or the buffer protocol), got " +
                          nb::inst_name(object).c_str())
                             .c_str());
  }
  return array;
}

inline std::string dtype_name(const nb::dlpack::dtype& t) {
  const auto code = static_cast<nb::dlpack::dtype_code>(t.code);
  std::string base;
  switch (code) {
    case nb::dlpack::dtype_code::Int: base = "int"; break;
    case nb::dlpack::dtype_code::UInt: base = "uint"; break;
    case nb::dlpack::dtype_code::Float: base = "float"; break;
    case nb::dlpack::dtype_code::Bfloat: base = "bfloat"; break;
    case nb::dlpack::dtype_code::Complex: base = "complex"; break;
    case nb::dlpack::dtype_code::Bool: return "bool";
    default: base = "dtype code " + std::to_string(t.code) + " of "; break;
  }
  return base + std::to_string(t.bits) + (t.lanes != 1 ? "x" + std::to_string(t.lanes) : "");
}

inline bool is_dtype(const any_array& a, nb::dlpack::dtype_code code, int bits) {
  return a.dtype().code == static_cast<std::uint8_t>(code) && a.dtype().bits == bits && a.dtype().lanes == 1;
}

// Host memory, for the host backend and the analyses.
inline void require_host(const any_array& a, const char* argument) {
  const int device = a.device_type();
  if (device == nb::device::cpu::value || device == nb::device::cuda_host::value) return;
  if (device == nb::device::cuda::value || device == nb::device::cuda_managed::value) {
    throw nb::type_error((std::string(argument) + " is CUDA memory (device " + std::to_string(a.device_id()) +
                          "), where this call reads host memory: pass a CPU array (tensor.cpu()), or give every array "
                          "on the device to an accumulator made with device=\"cuda\"")
                             .c_str());
  }
  throw nb::type_error((std::string(argument) + " must be in host memory (DLPack device type 1), got device type " +
                        std::to_string(device))
                           .c_str());
}

inline std::vector<index_t> shape_of(const any_array& a) {
  std::vector<index_t> shape(a.ndim());
  for (std::size_t r = 0; r < a.ndim(); ++r) shape[r] = static_cast<index_t>(a.shape(r));
  return shape;
}

inline std::vector<index_t> strides_of(const any_array& a) {
  std::vector<index_t> strides(a.ndim());
  for (std::size_t r = 0; r < a.ndim(); ++r) strides[r] = static_cast<index_t>(a.stride(r));
  return strides;
}

inline std::string shape_text(const std::vector<index_t>& shape) {
  std::string text = "(";
  for (std::size_t r = 0; r < shape.size(); ++r) text += (r ? ", " : "") + std::to_string(shape[r]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

// The memloc element type of activations or representations, or a TypeError naming `argument`.
inline element_type element_type_of(const any_array& a, const char* argument) {
  using code = nb::dlpack::dtype_code;
  if (is_dtype(a, code::Float, 32)) return element_type::f32;
  if (is_dtype(a, code::Float, 64)) return element_type::f64;
  if (is_dtype(a, code::Float, 16)) return element_type::f16;
  if (is_dtype(a, code::Bfloat, 16)) return element_type::bf16;
  throw nb::type_error((std::string(argument) + " dtype must be float32, float64, float16 or bfloat16, got " +
                        dtype_name(a.dtype()))
                           .c_str());
}

// The letters an array is read with, its shape and strides after a leading "(nv)" or "(vn)"
// has split the first axis into samples and views.
struct lettered_axes {
  std::string letters;
  std::vector<index_t> shape;
  std::vector<index_t> strides;
};

inline lettered_axes split_grouped_axis(const char* argument, const std::string& layout, const any_array& a,
                                        index_t views) {
  lettered_axes out{layout, shape_of(a), strides_of(a)};
  const bool sample_major = layout.rfind("(nv)", 0) == 0, view_major = layout.rfind("(vn)", 0) == 0;
  if (!sample_major && !view_major) return out;
  if (a.ndim() == 0) throw nb::value_error((std::string(argument) + " must have at least one axis").c_str());
  if (views < 1) {
    throw nb::value_error(("layout \"" + layout + "\" splits " + argument + "'s first axis by views, which must be >= 1, got " +
                           std::to_string(views))
                              .c_str());
  }
  const index_t rows = out.shape[0];
  if (rows % views != 0) {
    throw nb::value_error((std::string(argument) + " first axis (" + std::to_string(rows) + ") must be a multiple of views (" +
                           std::to_string(views) + ") for layout \"" + layout + "\"")
                              .c_str());
  }
  const index_t samples = rows / views, step = out.strides[0];
  out.letters = (sample_major ? "nv" : "vn") + layout.substr(4);
  out.shape[0] = sample_major ? samples : views;
  out.strides[0] = sample_major ? views * step : samples * step;
  out.shape.insert(out.shape.begin() + 1, sample_major ? views : samples);
  out.strides.insert(out.strides.begin() + 1, step);
  return out;
}

// The layout of an activation batch when the caller names none: 5-D is [n, v, u, h, w];
// 4-D (a conv hook's NCHW output) and 2-D (a linear layer's) hold samples x views in their
// first axis, the views of a sample adjacent.
inline std::string default_activation_layout(const char* argument, std::size_t ndim) {
  switch (ndim) {
    case 5: return "nvuhw";
    case 4: return "(nv)uhw";
    case 2: return "(nv)u";
    default:
      throw nb::value_error((std::string(argument) + " has " + std::to_string(ndim) +
                             " axes; name them with layout= (e.g. \"nvus\", \"nvsu\" for tokens, \"nvu\" for a dense layer)")
                                .c_str());
  }
}

// `a` read as activations [samples, views, units, positions] under `layout` (or the default).
struct activation_geometry {
  std::string letters;  // as given, or the default
  detail::activation_axes axes;
};

// memloc's views step forward through memory; a reversed view (x[::-1], torch.flip is a
// copy already) is refused here with what to do, before its strides are read.
inline void require_forward_strides(const any_array& a, const char* argument) {
  for (std::size_t r = 0; r < a.ndim(); ++r) {
    if (a.stride(r) < 0) {
      throw nb::value_error((std::string(argument) + " axis " + std::to_string(r) + " has stride " +
                             std::to_string(a.stride(r)) +
                             " (a reversed view); memloc reads strides >= 0: pass a copy (x.copy(), x.contiguous())")
                                .c_str());
    }
  }
}

inline activation_geometry activation_axes_of(const any_array& a, const char* argument,
                                              const std::optional<std::string>& layout, index_t views) {
  require_forward_strides(a, argument);
  activation_geometry g;
  g.letters = layout ? *layout : default_activation_layout(argument, a.ndim());
  const lettered_axes split = split_grouped_axis(argument, g.letters, a, views);
  const std::string parameter = std::string("layout (for ") + argument + ")";
  if (const auto problem = detail::layout_letters_problem(parameter, split.letters, split.shape.size()); !problem.empty()) {
    throw nb::value_error(problem.c_str());
  }
  std::string problem;
  g.axes = detail::map_layout_letters(parameter, split.letters, split.shape, split.strides, problem);
  if (!problem.empty()) throw nb::value_error(problem.c_str());
  return g;
}

// `a` read as representations [samples, views, features]. Letters n and v name the sample
// and view axes; the f axes (one or more, adjacent) are flattened into features, which
// needs them to be contiguous among themselves (a C-order map read as C*H*W features).
struct representation_axes {
  std::array<index_t, 3> extents{1, 1, 1};
  std::array<index_t, 3> strides{0, 0, 0};
};

inline representation_axes representation_axes_of(const any_array& a, const char* argument,
                                                  const std::optional<std::string>& layout, index_t views) {
  require_forward_strides(a, argument);
  std::string letters;
  if (layout) {
    letters = *layout;
  } else if (a.ndim() >= 3) {
    letters = "nv" + std::string(a.ndim() - 2, 'f');
  } else if (a.ndim() == 2) {
    letters = "(nv)f";
  } else {
    throw nb::value_error((std::string(argument) + " must have at least 2 axes ([samples * views, features]), got " +
                           std::to_string(a.ndim()))
                              .c_str());
  }
  const lettered_axes split = split_grouped_axis(argument, letters, a, views);
  const std::string& l = split.letters;
  const std::string bad = "layout \"" + letters + "\" for " + argument;
  if (l.size() != split.shape.size()) {
    throw nb::value_error((bad + " names " + std::to_string(l.size()) + " axes, the array has " +
                           std::to_string(split.shape.size()))
                              .c_str());
  }
  for (const char c : l) {
    if (c != 'n' && c != 'v' && c != 'f') throw nb::value_error((bad + ": letters must be among n, v, f").c_str());
  }
  const auto first_f = l.find('f'), last_f = l.rfind('f');
  if (l.find('n') == std::string::npos || first_f == std::string::npos || l.find('n') != l.rfind('n') ||
      l.find('v') != l.rfind('v') || l.find_first_not_of('f', first_f) < last_f) {
    throw nb::value_error((bad + ": needs one n, at most one v and adjacent f axes (e.g. \"nvf\", \"vnf\", \"nvfff\")").c_str());
  }
  representation_axes r;
  for (std::size_t i = 0; i < l.size(); ++i) {
    if (l[i] == 'n') r.extents[0] = split.shape[i], r.strides[0] = split.strides[i];
    if (l[i] == 'v') r.extents[1] = split.shape[i], r.strides[1] = split.strides[i];
  }
  // Flatten the f axes from the innermost out; each must step over exactly the ones inside it.
  index_t features = 1, stride = 0;
  for (std::size_t i = last_f + 1; i-- > first_f;) {
    const index_t extent = split.shape[i];
    if (extent == 1) continue;
    if (features == 1) {
      stride = split.strides[i];
    } else if (split.strides[i] != features * stride) {
      throw nb::value_error((std::string(argument) + ": feature axes of layout \"" + letters +
                             "\" must be contiguous among themselves to be read as one; make the array contiguous first")
                                .c_str());
    }
    features *= extent;
  }
  r.extents[2] = features;
  r.strides[2] = features == 1 ? 0 : stride;
  return r;
}

template <class T>
nb::dlpack::dtype dtype_of() {
  if constexpr (std::is_same_v<T, half>) {
    return {static_cast<std::uint8_t>(nb::dlpack::dtype_code::Float), 16, 1};
  } else if constexpr (std::is_same_v<T, bfloat16>) {
    return {static_cast<std::uint8_t>(nb::dlpack::dtype_code::Bfloat), 16, 1};
  } else {
    return nb::dtype<T>();
  }
}

// A 1-D host array as a vector of Target: the array's own memory when it holds Target, else
// a converted copy from one of Sources (ids, labels and scores: one value per sample or
// unit, small beside the activations).
template <class Target>
struct host_vector {
  any_array array;  // holds the producer's export alive while `view` may point into it
  std::vector<Target> converted;
  vector_view<const Target> view;
};

template <class Target, class... Sources>
host_vector<Target> host_vector_of(nb::handle object, const char* argument, const char* allowed) {
  const any_array a = as_array(object, argument);
  require_host(a, argument);
  if (a.ndim() != 1) {
    throw nb::value_error((std::string(argument) + " must be 1-D, got shape " + shape_text(shape_of(a))).c_str());
  }
  const auto n = static_cast<index_t>(a.shape(0));
  host_vector<Target> out;
  out.array = a;
  // memloc's views take strides >= 0; a reversed vector is small enough to copy instead.
  if (a.dtype() == dtype_of<Target>() && a.stride(0) >= 0) {
    out.view = vector_view<const Target>(static_cast<const Target*>(a.data()), {n}, {a.stride(0)});
    return out;
  }
  out.converted.resize(static_cast<std::size_t>(n));
  const auto convert = [&](auto* data) {
    for (index_t i = 0; i < n; ++i) {
      out.converted[static_cast<std::size_t>(i)] = static_cast<Target>(load_as<Target>(data[i * a.stride(0)]));
    }
    return true;
  };
  const bool done = (a.dtype() == dtype_of<Target>() && convert(static_cast<const Target*>(a.data()))) ||
                    ((a.dtype() == dtype_of<Sources>() && convert(static_cast<const Sources*>(a.data()))) || ...);
  if (!done) {
    throw nb::type_error(
        (std::string(argument) + " dtype must be " + allowed + ", got " + dtype_name(a.dtype())).c_str());
  }
  out.view = vector_view<const Target>(out.converted.data(), {n});
  return out;
}

// Sample ids or labels.
inline host_vector<std::int64_t> indices_of(nb::handle object, const char* argument) {
  return host_vector_of<std::int64_t, std::int32_t, std::int16_t, std::int8_t, std::uint8_t, std::uint16_t,
                        std::uint32_t>(object, argument, "a signed integer (int64 or narrower) or uint8..uint32");
}

// Scores of the analyses, computed in fp64.
inline host_vector<double> scores_of(nb::handle object, const char* argument) {
  return host_vector_of<double, float, half, bfloat16>(object, argument, "float64, float32, float16 or bfloat16");
}

// The shape of `a`, which must be C-contiguous (a device copy is one transfer of bytes).
inline std::vector<std::size_t> c_contiguous_shape(const any_array& a, const char* argument) {
  std::vector<std::size_t> shape(a.ndim());
  std::int64_t expected = 1;
  for (std::size_t r = a.ndim(); r-- > 0;) {
    shape[r] = a.shape(r);
    if (shape[r] > 1 && a.stride(r) != expected) {
      throw nb::value_error((std::string(argument) + " must be C-contiguous").c_str());
    }
    expected *= static_cast<std::int64_t>(shape[r]);
  }
  return shape;
}

// A NumPy array that owns `values` (moved, not copied).
template <class T>
nb::ndarray<nb::numpy, T, nb::ndim<1>> to_numpy(std::vector<T>&& values) {
  auto* owned = new std::vector<T>(std::move(values));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T, nb::ndim<1>>(owned->data(), {owned->size()}, owner);
}

}  // namespace memloc::python
