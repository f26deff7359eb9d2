#pragma once

// The Python classes UnitMem, ClassMem and Alignment over either backend (backends.hpp):
// Impl is the host accumulator or its CUDA counterpart. A binding checks that each array
// lives where Impl computes, turns it into a descriptor, releases the GIL and forwards;
// outputs are allocated where Impl writes them and handed to Python without a copy (NumPy
// arrays on the host, DLPack-capable arrays on the device).

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "arrays.hpp"
#include "backends.hpp"

namespace memloc::python {

namespace nb = nanobind;

// A DLPack array of `shape` in new memory on CUDA device `device`, which the array owns, and
// that memory, for the caller to fill. Used only by device code paths (bindings of device
// accumulators, the module's copy to the device).
inline std::pair<nb::object, void*> owned_device_array(int device, const std::vector<std::size_t>& shape,
                                                       nb::dlpack::dtype dtype) {
  std::size_t bytes = (dtype.bits + 7u) / 8u;
  for (const std::size_t extent : shape) bytes *= extent;
  struct owned {
    int device;
    void* data;
  };
  auto* block = new owned{device, device::allocate(device, bytes)};
  nb::capsule owner(block, [](void* p) noexcept {
    auto* o = static_cast<owned*>(p);
    device::release(o->device, o->data);
    delete o;
  });
  return {nb::cast(nb::ndarray<nb::array_api>(block->data, shape.size(), shape.data(), owner, nullptr, dtype,
                                              nb::device::cuda::value, device)),
          block->data};
}

template <class Impl>
class binding_base {
 public:
  template <class Shape, class Options>
  binding_base(int device, stream_handle stream, const Shape& shape, const Options& options)
      : impl_(device, stream, shape, options) {}
  // An accumulator's state is not copied behind the caller's back (Python has no copy of it).
  binding_base(const binding_base&) = delete;
  binding_base& operator=(const binding_base&) = delete;

  void merge(const binding_base& other, stream_handle stream) {
    if (impl_.device() != other.impl_.device()) {
      throw nb::value_error(("other must live on the same device as this accumulator (" + where(impl_.device()) +
                             "), got " + where(other.impl_.device()))
                                .c_str());
    }
    if (&other == this) throw nb::value_error("other must be another accumulator, got this one");
    nb::gil_scoped_release unlocked;
    std::scoped_lock lock(mutex_, other.mutex_);
    impl_.merge(stream, other.impl_);
  }

  void reset(stream_handle stream) {
    {
      nb::gil_scoped_release unlocked;
      std::lock_guard<std::mutex> lock(mutex_);
      impl_.reset(stream);
    }
    next_id_ = 0;
  }

  // (name, array over the state, reduction, element). With unsigned_as_signed the uint64
  // keys are typed int64 (the same bits), for frameworks without uint64 (PyTorch), which
  // then reduce them with a signed max after flipping the top bit (docs/distributed.md).
  nb::list state_buffers(nb::handle owner, bool unsigned_as_signed) {
    nb::list out;
    for (const auto& b : impl_.state_buffers()) {
      nb::dlpack::dtype dtype;
      const char* element = "";
      switch (b.element) {
        case state_element::f64: dtype = nb::dtype<double>(), element = "f64"; break;
        case state_element::i64: dtype = nb::dtype<std::int64_t>(), element = "i64"; break;
        case state_element::u64:
          dtype = unsigned_as_signed ? nb::dtype<std::int64_t>() : nb::dtype<std::uint64_t>(), element = "u64";
          break;
        case state_element::i32: dtype = nb::dtype<std::int32_t>(), element = "i32"; break;
        case state_element::f32: dtype = nb::dtype<float>(), element = "f32"; break;
      }
      const std::size_t shape[1] = {b.count};
      nb::object array;
      if constexpr (Impl::on_device) {
        array = nb::cast(
            nb::ndarray<nb::array_api>(b.data, 1, shape, owner, nullptr, dtype, nb::device::cuda::value, impl_.device()));
      } else {
        array = nb::cast(nb::ndarray<nb::numpy>(b.data, 1, shape, owner, nullptr, dtype));
      }
      out.append(nb::make_tuple(b.name, array, b.reduction == state_reduction::sum ? "sum" : "max", element));
    }
    return out;
  }

  nb::list signature() const {
    nb::list out;
    for (const auto& [name, value] : impl_.signature()) out.append(nb::make_tuple(name, value));
    return out;
  }

  int device() const { return Impl::on_device ? impl_.device() : -1; }

 protected:
  static std::string where(int device) { return device < 0 ? "the host" : "cuda:" + std::to_string(device); }

  // `a` must live where Impl computes: host memory, or the accumulator's CUDA device.
  void require_backend_memory(const any_array& a, const char* argument) const {
    if constexpr (Impl::on_device) {
      const int type = a.device_type();
      const bool cuda = type == nb::device::cuda::value || type == nb::device::cuda_managed::value;
      if (!cuda || a.device_id() != impl_.device()) {
        throw nb::type_error((std::string(argument) + " must be on " + where(impl_.device()) +
                              " (the accumulator's device), got " +
                              (cuda ? where(a.device_id()) : "DLPack device type " + std::to_string(type)))
                                 .c_str());
      }
    } else {
      require_host(a, argument);
    }
  }

  // A descriptor and the export it points into, kept alive until the call has read it; how
  // the array was read is put into words only for an error message.
  template <class Desc>
  struct described {
    any_array array;
    Desc desc;
    const char* argument;
    std::string letters;  // the activation layout read through; empty for representations

    std::string text() const {
      const auto& e = desc.extents;
      std::string out = std::string(argument) + " of shape " + shape_text(shape_of(array));
      if (!letters.empty()) out += " read through layout \"" + letters + "\"";
      out += " as " + std::to_string(e[0]) + " samples x " + std::to_string(e[1]) + " views x ";
      if constexpr (std::tuple_size_v<std::decay_t<decltype(e)>> == 4) {
        out += std::to_string(e[2]) + " units x " + std::to_string(e[3]) + " positions";
      } else {
        out += std::to_string(e[2]) + " features";
      }
      return out;
    }
  };

  described<activations_desc> activations(nb::handle object, const std::optional<std::string>& layout,
                                          index_t views) const {
    any_array a = as_array(object, "acts");
    require_backend_memory(a, "acts");
    auto g = activation_axes_of(a, "acts", layout, views);
    const activations_desc desc{a.data(), element_type_of(a, "acts"), g.axes.extents, g.axes.strides};
    return {std::move(a), desc, "acts", std::move(g.letters)};
  }

  described<representations_desc> representations(nb::handle object, const char* argument,
                                                  const std::optional<std::string>& layout, index_t views) const {
    any_array a = as_array(object, argument);
    require_backend_memory(a, argument);
    const auto r = representation_axes_of(a, argument, layout, views);
    const representations_desc desc{a.data(), element_type_of(a, argument), r.extents, r.strides};
    return {std::move(a), desc, argument, {}};
  }

  // Ids or labels of one call: read in place (a host array, or an int64 array on the
  // accumulator's device), or converted / numbered here and, for a device accumulator,
  // copied to the device on the call's stream inside the call (staged()).
  struct call_indices {
    host_vector<std::int64_t> host;
    std::vector<std::int64_t> numbered;
    any_array device_array;
    index_desc desc;
    bool stage = false;
    bool numbered_here = false;
  };

  call_indices indices(nb::handle object, const char* argument, index_t batch) const {
    call_indices out;
    vector_view<const std::int64_t> values;
    if (object.is_none()) {
      out.numbered.resize(static_cast<std::size_t>(batch));
      for (index_t i = 0; i < batch; ++i) out.numbered[static_cast<std::size_t>(i)] = next_id_ + i;
      values = vector_view<const std::int64_t>(out.numbered.data(), {batch});
      out.numbered_here = true;
    } else {
      if constexpr (Impl::on_device) {
        any_array a = as_array(object, argument);
        if (a.device_type() != nb::device::cpu::value) {
          require_backend_memory(a, argument);
          if (a.ndim() != 1 || a.dtype() != nb::dtype<std::int64_t>() || a.stride(0) < 0) {
            throw nb::type_error((std::string(argument) + " on the device must be 1-D int64 with a stride >= 0, got " +
                                  dtype_name(a.dtype()) + " of shape " + shape_text(shape_of(a)))
                                     .c_str());
          }
          out.desc = {static_cast<const std::int64_t*>(a.data()), static_cast<index_t>(a.shape(0)), a.stride(0)};
          out.device_array = std::move(a);
          return out;
        }
      }
      out.host = indices_of(object, argument);
      values = out.host.view;
    }
    if constexpr (Impl::on_device) {
      // Packed, so the device copy is one contiguous transfer.
      const index_t n = values.extent(0);
      out.numbered.resize(static_cast<std::size_t>(n));
      for (index_t i = 0; i < n; ++i) out.numbered[static_cast<std::size_t>(i)] = values(i);
      out.desc = {out.numbered.data(), n, 1};
      out.stage = true;
    } else {
      out.desc = {values.data_handle(), values.extent(0), values.stride(0)};
    }
    return out;
  }

  // Runs `call` with the GIL released and this accumulator locked, so two Python threads
  // never fold into one state at once; host ids of a device accumulator are copied to the
  // device on `stream` first and freed in stream order after the call's work. memloc's own
  // errors gain how `read` (the batch) was read.
  template <class Read, class Call>
  void locked(stream_handle stream, const Read& read, std::initializer_list<call_indices*> staged, Call&& call) {
    nb::gil_scoped_release unlocked;
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<const void*> copies;
    try {
      if constexpr (Impl::on_device) {
        for (call_indices* s : staged) {
          if (!s->stage) continue;
          s->desc.data = device::stage(impl_.device(), s->desc.data, s->desc.size, stream);
          copies.push_back(s->desc.data);
        }
      }
      call();
    } catch (const logic_error& e) {
      release(copies, stream);
      throw logic_error(std::string(e.what()) + " [" + read.text() + "]");
    } catch (...) {
      release(copies, stream);
      throw;
    }
    release(copies, stream);
  }

  void release(const std::vector<const void*>& copies, stream_handle stream) const noexcept {
    if constexpr (Impl::on_device) {
      for (const void* p : copies) device::release_staged(impl_.device(), p, stream);
    }
  }

  // Ids this accumulator numbered count as used only once the update that used them succeeded.
  void commit(const call_indices& ids) {
    if (ids.numbered_here) next_id_ += ids.desc.size;
  }

  // An output of n elements where Impl writes it, and the Python object that owns it.
  template <class T>
  std::pair<nb::object, T*> output(index_t n) const {
    if constexpr (Impl::on_device) {
      auto [array, data] = owned_device_array(impl_.device(), {static_cast<std::size_t>(n)}, nb::dtype<T>());
      return {std::move(array), static_cast<T*>(data)};
    } else {
      auto array = to_numpy(std::vector<T>(static_cast<std::size_t>(n)));
      T* data = array.data();
      return {nb::cast(std::move(array)), data};
    }
  }

  // finalize: reads the state under the same lock, with the GIL released.
  template <class Finalize>
  void finalize_locked(Finalize&& call) const {
    nb::gil_scoped_release unlocked;
    std::lock_guard<std::mutex> lock(mutex_);
    call();
  }

  Impl impl_;
  index_t next_id_ = 0;
  mutable std::mutex mutex_;
};

template <class Impl>
class unitmem_binding : public binding_base<Impl> {
 public:
  using binding_base<Impl>::binding_base;

  void update(nb::handle acts, nb::handle ids, const std::optional<std::string>& layout, stream_handle stream) {
    const auto a = this->activations(acts, layout, this->impl_.shape().views);
    auto i = this->indices(ids, "ids", a.desc.extents[0]);
    this->locked(stream, a, {&i}, [&] { this->impl_.update(stream, a.desc, i.desc); });
    this->commit(i);
  }

  nb::dict finalize(stream_handle stream) const {
    const index_t n = this->impl_.shape().units;
    auto [score, score_data] = this->template output<double>(n);
    auto [top, top_data] = this->template output<double>(n);
    auto [argmax, argmax_data] = this->template output<std::int64_t>(n);
    auto [rest, rest_data] = this->template output<double>(n);
    unitmem_report report;
    this->finalize_locked([&, &sd = score_data, &td = top_data, &ad = argmax_data, &rd = rest_data] {
      report = this->impl_.finalize(stream, {sd, td, ad, rd});
    });
    nb::dict out;
    out["unitmem"] = score, out["mu_max"] = top, out["argmax"] = argmax, out["mu_rest"] = rest;
    out["samples"] = report.samples, out["units"] = report.units, out["nan_units"] = report.nan_units;
    out["negative_denominator_units"] = report.negative_denominator_units;
    return out;
  }
};

template <class Impl>
class classmem_binding : public binding_base<Impl> {
 public:
  using binding_base<Impl>::binding_base;

  void update(nb::handle acts, nb::handle labels, nb::handle ids, const std::optional<std::string>& layout,
              stream_handle stream) {
    const auto a = this->activations(acts, layout, this->impl_.shape().views);
    if (labels.is_none()) throw nb::type_error("labels must be an array of class indices, got None");
    auto l = this->indices(labels, "labels", a.desc.extents[0]);
    auto i = this->indices(ids, "ids", a.desc.extents[0]);
    this->locked(stream, a, {&i, &l}, [&] { this->impl_.update(stream, a.desc, i.desc, l.desc); });
    this->commit(i);
  }

  nb::dict finalize(stream_handle stream) const {
    const index_t n = this->impl_.shape().units;
    auto [score, score_data] = this->template output<double>(n);
    auto [top, top_data] = this->template output<double>(n);
    auto [max_class, max_class_data] = this->template output<std::int64_t>(n);
    auto [rest, rest_data] = this->template output<double>(n);
    classmem_report report;
    this->finalize_locked([&, &sd = score_data, &td = top_data, &md = max_class_data, &rd = rest_data] {
      report = this->impl_.finalize(stream, {sd, td, md, rd});
    });
    nb::dict out;
    out["classmem"] = score, out["mu_max"] = top, out["max_class"] = max_class, out["mu_rest"] = rest;
    out["samples"] = report.samples, out["units"] = report.units, out["classes_with_samples"] = report.classes_with_samples;
    out["nan_units"] = report.nan_units, out["negative_denominator_units"] = report.negative_denominator_units;
    return out;
  }
};

template <class Impl>
class alignment_binding : public binding_base<Impl> {
 public:
  using binding_base<Impl>::binding_base;

  void update(nb::handle f, nb::handle g, nb::handle ids, const std::optional<std::string>& layout, stream_handle stream) {
    const auto fd = this->representations(f, "f", layout, this->impl_.shape().views);
    const auto gd = this->representations(g, "g", layout, this->impl_.shape().views);
    if (fd.desc.type != gd.desc.type) {
      throw nb::type_error(("f and g must have the same dtype, got " + dtype_name(fd.array.dtype()) + " and " +
                            dtype_name(gd.array.dtype()))
                               .c_str());
    }
    // One layout reads both: arrays of different ranks would be read through different
    // default layouts, and a view-major g would pass unnoticed.
    if (fd.array.ndim() != gd.array.ndim()) {
      throw nb::value_error(("f and g must have the same shape, got " + shape_text(shape_of(fd.array)) + " and " +
                             shape_text(shape_of(gd.array)))
                                .c_str());
    }
    auto i = this->indices(ids, "ids", fd.desc.extents[0]);
    this->locked(stream, fd, {&i}, [&] { this->impl_.update(stream, fd.desc, gd.desc, i.desc); });
    this->commit(i);
  }

  nb::dict finalize(stream_handle stream) const {
    const index_t n = this->impl_.shape().samples;
    auto [ssl_f, f_data] = this->template output<double>(n);
    auto [ssl_g, g_data] = this->template output<double>(n);
    this->finalize_locked([&, &fp = f_data, &gp = g_data] { this->impl_.finalize(stream, fp, gp); });
    nb::dict out;
    out["ssl_f"] = ssl_f, out["ssl_g"] = ssl_g;
    return out;
  }
};

}  // namespace memloc::python
