#pragma once

// The accumulators behind the Python classes, once for both backends: Space is host_space
// (module.cpp, with <memloc/memloc.hpp>) or device_space (cuda_backend.cu, with
// <memloc/memloc.cuh>). The includer provides exec_for(Space{}, stream), the exec argument
// of that backend on the caller's stream.

#include <memloc/detail/state_signature.hpp>

#include "backends.hpp"

namespace memloc::python {

template <class Accumulator>
signature_fields signature_of(const Accumulator& acc) {
  detail::state_signature s;
  detail::describe(s, acc);
  return s.fields();
}

template <class Space>
class unitmem_of {
 public:
  unitmem_of(stream_handle stream, const unitmem_shape& shape, const unitmem_options& options)
      : acc_(exec_for(Space{}, stream), shape, options) {}

  void update(stream_handle stream, const activations_desc& acts, const index_desc& ids) {
    with_element(acts.type, acts.data, [&](auto* data) {
      acc_.update(exec_for(Space{}, stream), typed_view<Space>(acts, data), typed_view<Space>(ids));
    });
  }
  void merge(stream_handle stream, const unitmem_of& other) { acc_.merge(exec_for(Space{}, stream), other.acc_); }
  unitmem_report finalize(stream_handle stream, const unit_outputs_raw& out) const {
    const index_t n = acc_.shape().units;
    return acc_.finalize(exec_for(Space{}, stream),
                         unitmem_outputs<Space>{make_vector_view<Space>(out.score, n), make_vector_view<Space>(out.mu_max, n),
                                                make_vector_view<Space>(out.argmax, n),
                                                make_vector_view<Space>(out.mu_rest, n)});
  }
  void reset(stream_handle stream) { acc_.reset(exec_for(Space{}, stream)); }
  std::vector<state_buffer> state_buffers() { return acc_.state_buffers(); }
  signature_fields signature() const { return signature_of(acc_); }
  const unitmem_shape& shape() const { return acc_.shape(); }

 private:
  unitmem_accumulator<Space> acc_;
};

template <class Space>
class classmem_of {
 public:
  classmem_of(stream_handle stream, const classmem_shape& shape, const classmem_options& options)
      : acc_(exec_for(Space{}, stream), shape, options) {}

  void update(stream_handle stream, const activations_desc& acts, const index_desc& ids, const index_desc& labels) {
    with_element(acts.type, acts.data, [&](auto* data) {
      acc_.update(exec_for(Space{}, stream), typed_view<Space>(acts, data), typed_view<Space>(ids),
                  typed_view<Space>(labels));
    });
  }
  void merge(stream_handle stream, const classmem_of& other) { acc_.merge(exec_for(Space{}, stream), other.acc_); }
  classmem_report finalize(stream_handle stream, const unit_outputs_raw& out) const {
    const index_t n = acc_.shape().units;
    return acc_.finalize(exec_for(Space{}, stream),
                         classmem_outputs<Space>{make_vector_view<Space>(out.score, n), make_vector_view<Space>(out.mu_max, n),
                                                 make_vector_view<Space>(out.argmax, n),
                                                 make_vector_view<Space>(out.mu_rest, n)});
  }
  void reset(stream_handle stream) { acc_.reset(exec_for(Space{}, stream)); }
  std::vector<state_buffer> state_buffers() { return acc_.state_buffers(); }
  signature_fields signature() const { return signature_of(acc_); }
  const classmem_shape& shape() const { return acc_.shape(); }

 private:
  classmem_accumulator<Space> acc_;
};

template <class Space>
class alignment_of {
 public:
  alignment_of(stream_handle stream, const alignment_shape& shape, const alignment_options& options)
      : acc_(exec_for(Space{}, stream), shape, options) {}

  // f and g share one element type (the binding checks it), so one dispatch serves both.
  void update(stream_handle stream, const representations_desc& f, const representations_desc& g, const index_desc& ids) {
    with_element(f.type, f.data, [&](auto* f_data) {
      using T = std::remove_const_t<std::remove_pointer_t<decltype(f_data)>>;
      acc_.update(exec_for(Space{}, stream), typed_view<Space>(f, f_data),
                  typed_view<Space>(g, static_cast<const T*>(g.data)), typed_view<Space>(ids));
    });
  }
  void merge(stream_handle stream, const alignment_of& other) { acc_.merge(exec_for(Space{}, stream), other.acc_); }
  void finalize(stream_handle stream, double* ssl_f, double* ssl_g) const {
    const index_t n = acc_.shape().samples;
    acc_.finalize(exec_for(Space{}, stream), make_vector_view<Space>(ssl_f, n), make_vector_view<Space>(ssl_g, n));
  }
  void reset(stream_handle stream) { acc_.reset(exec_for(Space{}, stream)); }
  std::vector<state_buffer> state_buffers() { return acc_.state_buffers(); }
  signature_fields signature() const { return signature_of(acc_); }
  const alignment_shape& shape() const { return acc_.shape(); }

 private:
  alignment_accumulator<Space> acc_;
};

}  // namespace memloc::python
