#pragma once

// The Python classes UnitMem, ClassMem and Alignment over either backend (backends.hpp):
// Impl is the host accumulator or its CUDA counterpart. A binding checks that each array
// lives where Impl computes, turns it into a descriptor, releases the GIL and forwards;
// outputs are allocated where Impl writes them and handed to Python without a copy (NumPy
// arrays on the host, DLPack-capable arrays on the device).

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "arrays.hpp"
#include "backends.hpp"

namespace memloc::python {

namespace nb = nanobind;

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
    nb::gil_scoped_release unlocked;
    impl_.merge(stream, other.impl_);
  }

  void reset(stream_handle stream) {
    impl_.reset(stream);
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
      }
      const std::size_t shape[1] = {b.count};
      nb::object array;
      if constexpr (Impl::on_device) {
        array = nb::cast(nb::ndarray<nb::array_api>(b.data, 1, shape, owner, nullptr, dtype, nb::device::cuda::value, impl_.device()));
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
  // `a` must live where Impl computes: host memory, or the accumulator's CUDA device.
  void require_backend_memory(const any_array& a, const char* argument) const {
    if constexpr (Impl::on_device) {
      const int type = a.device_type();
      if ((type != nb::device::cuda::value && type != nb::device::cuda_managed::value) || a.device_id() != impl_.device()) {
        throw nb::type_error((std::string(argument) + " must be on CUDA device " + std::to_string(impl_.device()) +
                              " (the accumulator's), got DLPack device type " + std::to_string(type) + " id " +
                              std::to_string(a.device_id()))
                                 .c_str());
      }
    } else {
      require_host(a, argument);
    }
  }

  activations_desc activations(nb::handle object, const std::optional<std::string>& layout, index_t views) const {
    const any_array a = as_array(object, "acts");
    require_backend_memory(a, "acts");
    const auto geometry = activation_axes_of(a, "acts", layout, views);
    return {a.data(), element_type_of(a, "acts"), geometry.axes.extents, geometry.axes.strides};
  }

  representations_desc representations(nb::handle object, const char* argument, const std::optional<std::string>& layout,
                                       index_t views) const {
    const any_array a = as_array(object, argument);
    require_backend_memory(a, argument);
    const auto r = representation_axes_of(a, argument, layout, views);
    return {a.data(), element_type_of(a, argument), r.extents, r.strides};
  }

  // Ids or labels where Impl reads them. On the device, int64 device arrays are read in
  // place; host arrays (and the ids numbered here) are copied into `staging`, which stays
  // allocated, since the update that reads it may still be queued when this call returns.
  struct staging_buffer {
    int device = -1;
    void* data = nullptr;
    std::size_t bytes = 0;
    staging_buffer() = default;
    staging_buffer(const staging_buffer&) = delete;
    staging_buffer& operator=(const staging_buffer&) = delete;
    ~staging_buffer() {
      if constexpr (Impl::on_device) {
        if (data != nullptr) device::release(device, data);
      }
    }
  };

  // `host` keeps converted or numbered ids alive until Impl has read them (the host backend
  // reads them during the call; the device backend copies them to `staging` first).
  struct index_storage {
    std::vector<std::int64_t> host;
    staging_buffer staging;
  };

  index_desc indices(nb::handle object, const char* argument, index_t batch, index_storage& storage,
                     stream_handle stream) {
    vector_view<const std::int64_t> values;
    if (object.is_none()) {
      storage.host.resize(static_cast<std::size_t>(batch));
      for (index_t i = 0; i < batch; ++i) storage.host[static_cast<std::size_t>(i)] = next_id_ + i;
      values = vector_view<const std::int64_t>(storage.host.data(), {batch});
      next_id_ += batch;
    } else {
      if constexpr (Impl::on_device) {
        const any_array a = as_array(object, argument);
        if (a.device_type() != nb::device::cpu::value) {
          require_backend_memory(a, argument);
          if (a.ndim() != 1 || a.dtype() != nb::dtype<std::int64_t>()) {
            throw nb::type_error((std::string(argument) + " on the device must be 1-D int64, got " + dtype_name(a.dtype()) +
                                  " with shape " + shape_text(shape_of(a)))
                                     .c_str());
          }
          return {static_cast<const std::int64_t*>(a.data()), static_cast<index_t>(a.shape(0)), a.stride(0)};
        }
      }
      auto host = indices_of(object, argument);
      if (!host.converted.empty()) {
        storage.host = std::move(host.converted);
        values = vector_view<const std::int64_t>(storage.host.data(), {host.view.extent(0)});
      } else {
        values = host.view;  // the caller's array, alive for the whole call
      }
    }
    if constexpr (!Impl::on_device) {
      return {values.data_handle(), values.extent(0), values.stride(0)};
    } else {
      const index_t n = values.extent(0);
      std::vector<std::int64_t> packed(static_cast<std::size_t>(n));
      for (index_t i = 0; i < n; ++i) packed[static_cast<std::size_t>(i)] = values(i);
      const std::size_t bytes = packed.size() * sizeof(std::int64_t);
      staging_buffer& staging = storage.staging;
      if (staging.bytes < bytes) {
        if (staging.data != nullptr) device::release(staging.device, staging.data);
        staging.data = nullptr;
        staging.device = impl_.device();
        staging.data = device::allocate(staging.device, bytes);
        staging.bytes = bytes;
      }
      if (bytes > 0) device::copy_to_device(impl_.device(), staging.data, packed.data(), bytes, stream);
      return {static_cast<const std::int64_t*>(staging.data), n, 1};
    }
  }

  // An output of n elements where Impl writes it, and the Python object that owns it.
  template <class T>
  std::pair<nb::object, T*> output(index_t n) const {
    if constexpr (Impl::on_device) {
      struct owned {
        int device;
        void* data;
      };
      auto* block = new owned{impl_.device(), device::allocate(impl_.device(), static_cast<std::size_t>(n) * sizeof(T))};
      nb::capsule owner(block, [](void* p) noexcept {
        auto* o = static_cast<owned*>(p);
        device::release(o->device, o->data);
        delete o;
      });
      const std::size_t shape[1] = {static_cast<std::size_t>(n)};
      return {nb::cast(nb::ndarray<nb::array_api>(block->data, 1, shape, owner, nullptr, nb::dtype<T>(), nb::device::cuda::value,
                                     impl_.device())),
              static_cast<T*>(block->data)};
    } else {
      auto array = to_numpy(std::vector<T>(static_cast<std::size_t>(n)));
      T* data = array.data();
      return {nb::cast(std::move(array)), data};
    }
  }

  Impl impl_;
  index_t next_id_ = 0;
  index_storage ids_, labels_;
};

template <class Impl>
class unitmem_binding : public binding_base<Impl> {
 public:
  using binding_base<Impl>::binding_base;

  void update(nb::handle acts, nb::handle ids, const std::optional<std::string>& layout, stream_handle stream) {
    const auto a = this->activations(acts, layout, this->impl_.shape().views);
    const auto i = this->indices(ids, "ids", a.extents[0], this->ids_, stream);
    nb::gil_scoped_release unlocked;
    this->impl_.update(stream, a, i);
  }

  nb::dict finalize(stream_handle stream) const {
    const index_t n = this->impl_.shape().units;
    auto [score, score_data] = this->template output<double>(n);
    auto [top, top_data] = this->template output<double>(n);
    auto [argmax, argmax_data] = this->template output<std::int64_t>(n);
    auto [rest, rest_data] = this->template output<double>(n);
    unitmem_report report;
    {
      nb::gil_scoped_release unlocked;
      report = this->impl_.finalize(stream, {score_data, top_data, argmax_data, rest_data});
    }
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
    const auto l = this->indices(labels, "labels", a.extents[0], this->labels_, stream);
    const auto i = this->indices(ids, "ids", a.extents[0], this->ids_, stream);
    nb::gil_scoped_release unlocked;
    this->impl_.update(stream, a, i, l);
  }

  nb::dict finalize(stream_handle stream) const {
    const index_t n = this->impl_.shape().units;
    auto [score, score_data] = this->template output<double>(n);
    auto [top, top_data] = this->template output<double>(n);
    auto [max_class, max_class_data] = this->template output<std::int64_t>(n);
    auto [rest, rest_data] = this->template output<double>(n);
    classmem_report report;
    {
      nb::gil_scoped_release unlocked;
      report = this->impl_.finalize(stream, {score_data, top_data, max_class_data, rest_data});
    }
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
    if (fd.type != gd.type) {
      throw nb::type_error(("f and g must have the same dtype, got " + dtype_name(as_array(f, "f").dtype()) + " and " +
                            dtype_name(as_array(g, "g").dtype()))
                               .c_str());
    }
    const auto i = this->indices(ids, "ids", fd.extents[0], this->ids_, stream);
    nb::gil_scoped_release unlocked;
    this->impl_.update(stream, fd, gd, i);
  }

  nb::dict finalize(stream_handle stream) const {
    const index_t n = this->impl_.shape().samples;
    auto [ssl_f, f_data] = this->template output<double>(n);
    auto [ssl_g, g_data] = this->template output<double>(n);
    {
      nb::gil_scoped_release unlocked;
      this->impl_.finalize(stream, f_data, g_data);
    }
    nb::dict out;
    out["ssl_f"] = ssl_f, out["ssl_g"] = ssl_g;
    return out;
  }
};

}  // namespace memloc::python
