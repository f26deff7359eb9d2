// memloc._memloc: memloc for Python. Each binding turns Python objects into memloc views
// (arrays.hpp), releases the GIL, and forwards to the C++ function of the same name; results
// come back in memory memloc wrote into directly (NumPy arrays on the host, DLPack arrays on
// a CUDA device). The accumulators run on the host backend, and on the CUDA backend where the
// module is built with it (MEMLOC_PYTHON_CUDA, cuda_backend.cu). memloc/__init__.py adds the
// keyword conveniences, the choice of backend and the result objects on top.

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <memloc/memloc.hpp>

#include "arrays.hpp"
#include "backends.hpp"

namespace memloc::python {
inline host_exec exec_for(host_space, stream_handle) { return host_exec{}; }
}  // namespace memloc::python

#include "accumulators.hpp"
#include "bindings.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace memloc::python {
namespace {

// An option word, parsed with the table memloc prints it from (memloc/spellings.hpp).
template <class Enum>
Enum choice(const char* argument, const std::string& value) {
  if (const auto parsed = from_string<Enum>(value)) return *parsed;
  throw nb::value_error(
      (std::string(argument) + " must be one of \"" + printed_words<Enum>("\", \"") + "\", got \"" + value + "\"").c_str());
}

activation_transform transform_of(const std::string& v) {
  return choice<activation_transform>("transform", v);
}

alignment_options alignment_options_of(const std::string& distance, const std::string& pairs) {
  return {choice<distance_kind>("distance", distance), choice<pair_mode>("pairs", pairs)};
}

sslmem_options sslmem_options_of(const std::string& normalize, bool clamp01) {
  return {choice<sslmem_normalization>("normalize", normalize), clamp01};
}

rank_direction direction_of(const std::string& v) {
  return choice<rank_direction>("direction", v);
}

memloc::alternative alternative_of(const std::string& v) {
  return choice<memloc::alternative>("alternative", v);
}

// Exactly one of k (a count) and fraction. Taken as Python objects rather than
// std::optional, whose casters GCC 12 reports as maybe-uninitialized at -O3.
top_k top_k_of(const char* k_name, nb::handle k, nb::handle fraction) {
  if (k.is_none() == fraction.is_none()) {
    throw nb::value_error((std::string("give exactly one of ") + k_name + " (a count) and fraction, got " +
                           (k.is_none() ? "neither" : "both"))
                              .c_str());
  }
  if (!k.is_none()) {
    index_t count = 0;
    if (!nb::try_cast(k, count)) {
      throw nb::type_error((std::string(k_name) + " must be an integer, got " + nb::inst_name(k).c_str()).c_str());
    }
    return top_count(count);
  }
  double share = 0.0;
  if (!nb::try_cast(fraction, share)) {
    throw nb::type_error((std::string("fraction must be a number, got ") + nb::inst_name(fraction).c_str()).c_str());
  }
  return top_fraction(share);
}

template <class T>
nb::ndarray<nb::numpy, T, nb::ndim<1>> empty_numpy(index_t n) {
  return to_numpy(std::vector<T>(static_cast<std::size_t>(n)));
}

// ---------------------------------------------------------------------------------------
// One-shot metrics and analysis
// ---------------------------------------------------------------------------------------

nb::dict sslmem_binding(nb::handle ssl_f, nb::handle ssl_g, const std::string& normalize, bool clamp01) {
  const auto f = scores_of(ssl_f, "ssl_f"), g = scores_of(ssl_g, "ssl_g");
  auto scores = empty_numpy<double>(f.view.extent(0));
  {
    nb::gil_scoped_release unlocked;
    sslmem(host_exec{}, f.view, g.view, make_vector_view(scores.data(), f.view.extent(0)),
           sslmem_options_of(normalize, clamp01));
  }
  nb::dict out;
  out["scores"] = scores;
  return out;
}

nb::dict layermem_binding(const std::vector<std::string>& names, const std::vector<nb::handle>& ssl_f,
                          const std::vector<nb::handle>& ssl_g, const std::string& normalize, bool clamp01,
                          const std::string& subset, std::int64_t k, std::uint64_t seed, std::int64_t rank_point) {
  if (names.size() != ssl_f.size() || names.size() != ssl_g.size()) {
    throw nb::value_error("points: one (ssl_f, ssl_g) pair per name");
  }
  std::vector<host_vector<double>> fs, gs;
  std::vector<measurement_point<host_space>> points;
  for (std::size_t p = 0; p < names.size(); ++p) {
    fs.push_back(scores_of(ssl_f[p], ("points[\"" + names[p] + "\"] ssl_f").c_str()));
    gs.push_back(scores_of(ssl_g[p], ("points[\"" + names[p] + "\"] ssl_g").c_str()));
  }
  for (std::size_t p = 0; p < names.size(); ++p) points.push_back({names[p], fs[p].view, gs[p].view});
  layermem_options options;
  options.score = sslmem_options_of(normalize, clamp01);
  options.subset = sample_subset{choice<subset_kind>("subset", subset), k, seed, rank_point};
  const auto count = static_cast<index_t>(points.size());
  const index_t samples = points.empty() ? 0 : points[0].ssl_f.extent(0);
  auto layermem_values = empty_numpy<double>(count), delta = empty_numpy<double>(count);
  const index_t members = layermem_subset_size(options.subset, samples);
  auto subset_ids = empty_numpy<std::int64_t>(members < 0 ? 0 : members);
  {
    nb::gil_scoped_release unlocked;
    layermem(host_exec{}, points, make_vector_view(layermem_values.data(), count), make_vector_view(delta.data(), count),
             make_vector_view(subset_ids.data(), members < 0 ? 0 : members), options);
  }
  nb::dict out;
  out["layermem"] = layermem_values, out["delta"] = delta, out["subset"] = subset_ids;
  return out;
}

nb::dict kendall_dict(const kendall_result& r) {
  nb::dict out;
  out["tau"] = r.tau, out["pvalue"] = r.p_value, out["n"] = r.n, out["exact"] = r.exact;
  out["discordant"] = r.discordant, out["x_tied"] = r.x_tied, out["y_tied"] = r.y_tied, out["joint_tied"] = r.joint_tied;
  return out;
}

nb::dict kendall_binding(nb::handle x, nb::handle y, const std::string& alternative, const std::string& method) {
  const auto xs = scores_of(x, "x"), ys = scores_of(y, "y");
  const kendall_options options{alternative_of(alternative), choice<kendall_method>("method", method)};
  kendall_result r;
  {
    nb::gil_scoped_release unlocked;
    r = kendall_tau_b(host_exec{}, xs.view, ys.view, options);
  }
  return kendall_dict(r);
}

nb::dict t_test_binding(nb::handle a, nb::handle b, bool equal_var, const std::string& alternative) {
  const auto as = scores_of(a, "a"), bs = scores_of(b, "b");
  const t_test_options options{equal_var ? t_test_kind::student : t_test_kind::welch, alternative_of(alternative)};
  t_test_result r;
  {
    nb::gil_scoped_release unlocked;
    r = t_test(host_exec{}, as.view, bs.view, options);
  }
  nb::dict out;
  out["statistic"] = r.statistic, out["pvalue"] = r.p_value, out["df"] = r.df;
  return out;
}

std::vector<named_scores<const double>> named_list(const std::vector<std::string>& names,
                                                   const std::vector<nb::handle>& arrays, const char* argument,
                                                   std::vector<host_vector<double>>& keep) {
  if (names.size() != arrays.size()) throw nb::value_error((std::string(argument) + ": one array per name").c_str());
  keep.clear();
  for (std::size_t i = 0; i < names.size(); ++i) {
    keep.push_back(scores_of(arrays[i], (std::string(argument) + "[\"" + names[i] + "\"]").c_str()));
  }
  std::vector<named_scores<const double>> list;
  for (std::size_t i = 0; i < names.size(); ++i) list.push_back({names[i], keep[i].view});
  return list;
}

// ---------------------------------------------------------------------------------------
// The accumulator classes
// ---------------------------------------------------------------------------------------

namespace host {

// The host accumulators with the interface of the device ones (backends.hpp).
template <class Base, class Shape, class Options>
struct on_host : Base {
  static constexpr bool on_device = false;
  on_host(int, stream_handle stream, const Shape& shape, const Options& options) : Base(stream, shape, options) {}
  int device() const { return -1; }
};

using unitmem = on_host<unitmem_of<host_space>, unitmem_shape, unitmem_options>;
using classmem = on_host<classmem_of<host_space>, classmem_shape, classmem_options>;
using alignment = on_host<alignment_of<host_space>, alignment_shape, alignment_options>;

}  // namespace host

// The same Python API for each backend; `prefix` names the classes ("" on the host, "Cuda").
// memloc/__init__.py picks one by the accumulator's device.
template <class UnitImpl, class ClassImpl, class AlignImpl>
void register_accumulators(nb::module_& m, const std::string& prefix) {
  using unit = unitmem_binding<UnitImpl>;
  nb::class_<unit>(m, (prefix + "UnitMem").c_str())
      .def(
          "__init__",
          [](unit* self, index_t samples, index_t units, index_t views, index_t positions, const std::string& reduce,
             const std::string& transform, const std::string& storage, int device, stream_handle stream) {
            const unitmem_options options{choice<rest_reduction>("reduce", reduce), transform_of(transform),
                                          choice<unitmem_storage>("storage", storage)};
            new (self) unit(device, stream, unitmem_shape{samples, units, views, positions}, options);
          },
          "samples"_a, "units"_a, nb::kw_only(), "views"_a = 1, "positions"_a = 1, "reduce"_a = "mean",
          "transform"_a = "none", "storage"_a = "auto", "device"_a = 0, "stream"_a = 0)
      .def("update", &unit::update, "acts"_a.none(), "ids"_a = nb::none(), "layout"_a = nb::none(), "stream"_a = 0)
      .def(
          "merge", [](unit& self, const unit& other, stream_handle stream) { self.merge(other, stream); }, "other"_a,
          "stream"_a = 0)
      .def("finalize", &unit::finalize, "stream"_a = 0)
      .def("reset", &unit::reset, "stream"_a = 0)
      .def(
          "state_buffers",
          [](nb::handle self, bool unsigned_as_signed) { return nb::cast<unit&>(self).state_buffers(self, unsigned_as_signed); },
          "unsigned_as_signed"_a = false)
      .def("signature", &unit::signature)
      .def_prop_ro("device", &unit::device);

  using klass = classmem_binding<ClassImpl>;
  nb::class_<klass>(m, (prefix + "ClassMem").c_str())
      .def(
          "__init__",
          [](klass* self, index_t samples, index_t units, index_t classes, index_t views, index_t positions,
             const std::string& transform, int device, stream_handle stream) {
            new (self) klass(device, stream, classmem_shape{samples, units, views, positions, classes},
                             classmem_options{transform_of(transform)});
          },
          "samples"_a, "units"_a, "classes"_a, nb::kw_only(), "views"_a = 1, "positions"_a = 1, "transform"_a = "none",
          "device"_a = 0, "stream"_a = 0)
      .def("update", &klass::update, "acts"_a.none(), "labels"_a.none(), "ids"_a = nb::none(), "layout"_a = nb::none(),
           "stream"_a = 0)
      .def(
          "merge", [](klass& self, const klass& other, stream_handle stream) { self.merge(other, stream); }, "other"_a,
          "stream"_a = 0)
      .def("finalize", &klass::finalize, "stream"_a = 0)
      .def("reset", &klass::reset, "stream"_a = 0)
      .def(
          "state_buffers",
          [](nb::handle self, bool unsigned_as_signed) { return nb::cast<klass&>(self).state_buffers(self, unsigned_as_signed); },
          "unsigned_as_signed"_a = false)
      .def("signature", &klass::signature)
      .def_prop_ro("device", &klass::device);

  using align = alignment_binding<AlignImpl>;
  nb::class_<align>(m, (prefix + "Alignment").c_str())
      .def(
          "__init__",
          [](align* self, index_t samples, index_t views, index_t features, const std::string& distance,
             const std::string& pairs, int device, stream_handle stream) {
            new (self) align(device, stream, alignment_shape{samples, views, features}, alignment_options_of(distance, pairs));
          },
          "samples"_a, "views"_a, "features"_a, nb::kw_only(), "distance"_a = "l2", "pairs"_a = "all_pairs",
          "device"_a = 0, "stream"_a = 0)
      .def("update", &align::update, "f"_a.none(), "g"_a.none(), "ids"_a = nb::none(), "layout"_a = nb::none(),
           "stream"_a = 0)
      .def(
          "merge", [](align& self, const align& other, stream_handle stream) { self.merge(other, stream); }, "other"_a,
          "stream"_a = 0)
      .def("finalize", &align::finalize, "stream"_a = 0)
      .def("reset", &align::reset, "stream"_a = 0)
      .def(
          "state_buffers",
          [](nb::handle self, bool unsigned_as_signed) { return nb::cast<align&>(self).state_buffers(self, unsigned_as_signed); },
          "unsigned_as_signed"_a = false)
      .def("signature", &align::signature)
      .def_prop_ro("device", &align::device);
}

#if MEMLOC_PYTHON_CUDA
// Device arrays for Python: a copy to the host (for results a framework cannot take over),
// and a copy to the device, which the tests use as a CUDA producer where no framework has one.
void register_device_memory(nb::module_& m) {
  m.def("device_count", &device::device_count);
  // Streams for the tests, which switch an accumulator between streams without a framework.
  m.def("_stream_create", [](int device_id) { return device::stream_create(device_id); }, "device"_a = 0);
  m.def("_stream_destroy", [](int device_id, stream_handle stream) { device::stream_destroy(device_id, stream); },
        "device"_a, "stream"_a);
  m.def(
      "_to_host",
      [](nb::handle object, stream_handle stream) {
        const any_array a = as_array(object, "array");
        if (a.device_type() != nb::device::cuda::value && a.device_type() != nb::device::cuda_managed::value) {
          throw nb::type_error("array must be CUDA memory");
        }
        // Only contiguous device arrays are copied: results and the tests' inputs are.
        const auto shape = c_contiguous_shape(a, "array");
        const std::size_t bytes = a.nbytes();
        auto* copy = new std::vector<std::uint8_t>(bytes);
        nb::capsule owner(copy, [](void* p) noexcept { delete static_cast<std::vector<std::uint8_t>*>(p); });
        {
          nb::gil_scoped_release unlocked;
          if (bytes > 0) device::copy_to_host(a.device_id(), copy->data(), a.data(), bytes, stream);
        }
        return nb::ndarray<nb::numpy>(copy->data(), a.ndim(), shape.data(), owner, nullptr, a.dtype());
      },
      "array"_a, "stream"_a = 0);
  m.def(
      "_to_device",
      [](nb::handle object, int device_id, stream_handle stream) {
        const any_array a = as_array(object, "array");
        require_host(a, "array");
        auto [array, data] = owned_device_array(device_id, c_contiguous_shape(a, "array"), a.dtype());
        if (a.nbytes() > 0) device::copy_to_device(device_id, data, a.data(), a.nbytes(), stream);
        return array;
      },
      "array"_a, "device"_a = 0, "stream"_a = 0);
}
#endif

}  // namespace
}  // namespace memloc::python

NB_MODULE(_memloc, m) {
  using namespace memloc;
  using namespace memloc::python;

  m.doc() = "memloc's host backend (OpenMP); use the memloc package, which wraps it";
  m.attr("__version__") = memloc::version_string();
  m.attr("cuda_backend") = static_cast<bool>(MEMLOC_PYTHON_CUDA);

  // memloc's precondition failures are the caller's bad arguments.
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const memloc::logic_error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  register_accumulators<host::unitmem, host::classmem, host::alignment>(m, "");
#if MEMLOC_PYTHON_CUDA
  register_accumulators<device::unitmem, device::classmem, device::alignment>(m, "Cuda");
  register_device_memory(m);
#endif

  m.def(
      "_activation_geometry",
      [](nb::handle acts, const std::optional<std::string>& layout, index_t views) {
        const any_array a = as_array(acts, "acts");
        const auto g = activation_axes_of(a, "acts", layout, views);
        return nb::make_tuple(g.axes.extents[0], g.axes.extents[1], g.axes.extents[2], g.axes.extents[3]);
      },
      "acts"_a, "layout"_a = nb::none(), "views"_a = 1);
  m.def(
      "_representation_geometry",
      [](nb::handle reps, const std::optional<std::string>& layout, index_t views) {
        const any_array a = as_array(reps, "f");
        const auto r = representation_axes_of(a, "f", layout, views);
        return nb::make_tuple(r.extents[0], r.extents[1], r.extents[2]);
      },
      "reps"_a, "layout"_a = nb::none(), "views"_a = 1);
  m.def(
      "_ndim", [](nb::handle array) { return as_array(array, "array").ndim(); }, "array"_a);
  // The address memloc reads an array at: tests compare it with the producer's own pointer.
  m.def(
      "_data_pointer", [](nb::handle array) { return reinterpret_cast<std::uintptr_t>(as_array(array, "array").data()); },
      "array"_a);

  m.def("_sslmem", &sslmem_binding, "ssl_f"_a, "ssl_g"_a, "normalize"_a, "clamp01"_a);
  m.def("_layermem", &layermem_binding, "names"_a, "ssl_f"_a, "ssl_g"_a, "normalize"_a, "clamp01"_a, "subset"_a, "k"_a,
        "seed"_a, "rank_point"_a);
  m.def("_kendall_tau_b", &kendall_binding, "x"_a, "y"_a, "alternative"_a, "method"_a);
  m.def("_t_test", &t_test_binding, "a"_a, "b"_a, "equal_var"_a, "alternative"_a);

  m.def(
      "_top_k",
      [](nb::handle scores, nb::handle k, nb::handle fraction, const std::string& direction) {
        const auto s = scores_of(scores, "scores");
        const auto size = top_k_of("k", k, fraction);
        ranking r;
        {
          nb::gil_scoped_release unlocked;
          r = top_k_indices(host_exec{}, s.view, size, direction_of(direction));
        }
        return nb::make_tuple(to_numpy(std::vector<std::int64_t>(r.indices.begin(), r.indices.end())), r.nan_count);
      },
      "scores"_a, "k"_a.none(), "fraction"_a.none(), "direction"_a);
  m.def(
      "_top_k_overlap",
      [](nb::handle a, nb::handle b, nb::handle k, nb::handle fraction, const std::string& direction) {
        const auto as = scores_of(a, "a"), bs = scores_of(b, "b");
        const auto size = top_k_of("k", k, fraction);
        const auto order = direction_of(direction);
        overlap_result r;
        {
          nb::gil_scoped_release unlocked;
          r = top_k_overlap(host_exec{}, as.view, bs.view, size, order);
        }
        return nb::make_tuple(r.k, r.count, r.fraction);
      },
      "a"_a, "b"_a, "k"_a.none(), "fraction"_a.none(), "direction"_a);
  m.def(
      "_top_k_overlap_matrix",
      [](const std::vector<std::string>& names, const std::vector<nb::handle>& arrays, nb::handle k,
         nb::handle fraction, const std::string& direction) {
        std::vector<host_vector<double>> keep;
        const auto list = named_list(names, arrays, "points", keep);
        const auto size = top_k_of("k", k, fraction);
        const auto order = direction_of(direction);
        overlap_matrix r;
        {
          nb::gil_scoped_release unlocked;
          r = top_k_overlap_matrix(host_exec{}, list, size, order);
        }
        return nb::make_tuple(r.k, to_numpy(std::vector<std::int64_t>(r.counts.begin(), r.counts.end())));
      },
      "names"_a, "arrays"_a, "k"_a.none(), "fraction"_a.none(), "direction"_a);
  m.def(
      "_kendall_tau_b_top_k_union",
      [](nb::handle x, nb::handle y, nb::handle k, nb::handle fraction, const std::string& direction,
         const std::string& alternative) {
        const auto xs = scores_of(x, "x"), ys = scores_of(y, "y");
        const auto size = top_k_of("k", k, fraction);
        const auto order = direction_of(direction);
        const kendall_options options{alternative_of(alternative)};
        kendall_result r;
        {
          nb::gil_scoped_release unlocked;
          r = kendall_tau_b_top_k_union(host_exec{}, xs.view, ys.view, size, order, options);
        }
        return kendall_dict(r);
      },
      "x"_a, "y"_a, "k"_a.none(), "fraction"_a.none(), "direction"_a, "alternative"_a);
  m.def(
      "_pruning_masks",
      [](const std::vector<std::string>& names, const std::vector<nb::handle>& arrays, const std::string& selection,
         const std::string& scope, nb::handle k, nb::handle fraction, std::uint64_t seed) {
        std::vector<host_vector<double>> keep;
        const auto list = named_list(names, arrays, "layers", keep);
        pruning_options options;
        options.selection = choice<prune_selection>("selection", selection);
        options.scope = choice<prune_scope>("scope", scope);
        options.amount = top_k_of("k", k, fraction);
        options.seed = seed;
        unit_masks r;
        {
          nb::gil_scoped_release unlocked;
          r = pruning_masks(host_exec{}, list, options);
        }
        nb::list masks;
        for (std::size_t l = 0; l < r.names.size(); ++l) {
          masks.append(nb::make_tuple(r.names[l],
                                      to_numpy(std::vector<std::uint8_t>(r.pruned[l].begin(), r.pruned[l].end())),
                                      to_numpy(std::vector<std::int64_t>(r.units[l].begin(), r.units[l].end())),
                                      r.nan_units[l]));
        }
        return masks;
      },
      "names"_a, "arrays"_a, "selection"_a, "scope"_a, "k"_a.none(), "fraction"_a.none(), "seed"_a);
  m.def(
      "_select_layers",
      [](const std::vector<std::string>& names, nb::handle values, index_t count, const std::string& direction) {
        const auto v = scores_of(values, "values");
        const auto order = direction_of(direction);
        layer_selection r;
        {
          nb::gil_scoped_release unlocked;
          r = select_layers(host_exec{}, names, v.view, count, order);
        }
        return nb::make_tuple(r.names, to_numpy(std::vector<std::int64_t>(r.points.begin(), r.points.end())), r.nan_count);
      },
      "names"_a, "values"_a, "count"_a, "direction"_a);
  m.def(
      "_units_to_samples",
      [](nb::handle unitmem, nb::handle argmax, nb::handle sample_scores, nb::handle k,
         nb::handle fraction) {
        const auto u = scores_of(unitmem, "unitmem");
        const auto a = indices_of(argmax, "argmax");
        const auto s = scores_of(sample_scores, "sample_scores");
        const auto size = top_k_of("top_units", k, fraction);
        unit_sample_links r;
        {
          nb::gil_scoped_release unlocked;
          r = units_to_samples(host_exec{}, u.view, a.view, s.view, size);
        }
        nb::dict out;
        out["argmax_score"] = to_numpy(std::move(r.argmax_score));
        out["top_units"] = to_numpy(std::vector<std::int64_t>(r.top_units.begin(), r.top_units.end()));
        out["top_unit_count"] = to_numpy(std::vector<std::int64_t>(r.top_unit_count.begin(), r.top_unit_count.end()));
        out["nan_units"] = r.nan_units;
        return out;
      },
      "unitmem"_a, "argmax"_a, "sample_scores"_a, "k"_a.none(), "fraction"_a.none());
}
