#pragma once

// The command's streaming loops, written once for both backends: a chunk of rows is read
// from the .npy stream into host memory, placed where the backend computes (the identity on
// the CPU, a copy to the GPU), and folded; outputs are fetched back at the end. `Memory`
// supplies the exec object and the data movement (host_memory below, device_memory in
// device.cu). This header needs only memloc's backend-neutral headers, so nvcc can compile
// it for the device path without seeing Eigen.

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <memloc/alignment_types.hpp>
#include <memloc/classmem_types.hpp>
#include <memloc/core.hpp>
#include <memloc/detail/sequential_ids.hpp>
#include <memloc/unitmem_types.hpp>

#include "layout.hpp"
#include "npy.hpp"

namespace memloc::cli {

// Values converted per chunk: 2^26 of them (256 MB of floats), whatever the file's size.
inline constexpr index_t chunk_budget = index_t{1} << 26;

// "\rlabel done/total" on stderr while a long run goes on, only when stderr is a terminal.
class progress {
 public:
  progress(std::string label, index_t total) : label_(std::move(label)), total_(total), shown_(::isatty(2) != 0) {}
  progress(const progress&) = delete;
  progress& operator=(const progress&) = delete;
  void update(index_t done) const {
    if (shown_) std::fprintf(stderr, "\r%s %lld/%lld", label_.c_str(), static_cast<long long>(done), static_cast<long long>(total_));
  }
  ~progress() {
    if (shown_) std::fprintf(stderr, "\n");
  }

 private:
  std::string label_;
  index_t total_;
  bool shown_;
};

struct unitmem_result {
  unitmem_report report;
  std::vector<double> unitmem, mu_max, mu_rest;
  std::vector<std::int64_t> argmax;
  bool has_classes = false;
  classmem_report class_report;
  std::vector<double> classmem, class_mu_max, class_mu_rest;
  std::vector<std::int64_t> max_class;
};

// Sample ids (given, or the sample's index) and labels (optional), one per sample.
struct sample_info {
  std::vector<std::int64_t> ids;
  std::vector<std::int64_t> labels;
  index_t id_space = 0;
  index_t classes = 0;
};

struct point_result {
  std::string name;
  std::vector<double> ssl_f, ssl_g, scores;
};

// Memory on the host: everything already is where the host backend computes.
struct host_memory {
  using space = host_space;
  host_exec exec;

  template <class U>
  const U* place(const std::vector<U>& values) {
    return values.data();
  }
  template <class U>
  const U* place(std::vector<U>&&) = delete;  // the pointer would outlive a temporary
  template <class U>
  const U* stage(const U* host, index_t, int) {
    return host;
  }
  template <class U>
  U* output(std::vector<U>& host) {
    return host.data();
  }
  template <class U>
  void fetch(std::vector<U>&) {}
};

// Rows per chunk: as many as fit the budget, or `requested` (> 0) when the caller says.
inline index_t chunk_rows(index_t rows, index_t values_per_row, index_t requested) {
  if (requested > 0) return std::min(rows, requested);
  return std::max<index_t>(1, std::min<index_t>(rows, chunk_budget / std::max<index_t>(1, values_per_row)));
}

template <class T, class Memory>
unitmem_result fold_unitmem(const npy::npy_stream& acts, const activation_layout& layout, Memory& memory,
                            unitmem_options options, const sample_info& samples, index_t requested_rows = 0) {
  using space = typename Memory::space;
  const auto& exec = memory.exec;
  if (layout.view_major) options.storage = unitmem_storage::per_sample;  // views arrive in separate chunks
  unitmem_accumulator acc(exec, unitmem_shape{samples.id_space, layout.units, layout.views, layout.positions}, options);
  const bool with_classes = !samples.labels.empty();
  std::optional<classmem_accumulator<space>> classes;
  if (with_classes) {
    classes.emplace(exec, classmem_shape{samples.id_space, layout.units, layout.views, layout.positions, samples.classes},
                    classmem_options{options.transform});
  }
  const std::int64_t* ids = memory.place(samples.ids);
  const std::int64_t* labels = with_classes ? memory.place(samples.labels) : nullptr;
  const index_t row_size = acts.row_size();
  const index_t rows = acts.rows();
  const index_t per_chunk = chunk_rows(rows, row_size, requested_rows);
  std::vector<T> buffer(static_cast<std::size_t>(per_chunk * row_size));
  const progress bar("folding", rows);
  for (index_t first = 0; first < rows; first += per_chunk) {
    const index_t count = std::min(per_chunk, rows - first);
    acts.read_rows(first, count, buffer.data());
    const auto batch = layout.chunk<T, space>(memory.stage(buffer.data(), count * row_size, 0), count);
    // n first: this chunk's samples are rows [first, first + count); v first: every sample.
    const index_t offset = layout.view_major ? 0 : first;
    const auto id_view = make_vector_view<space>(ids + offset, batch.extent(0));
    acc.update(exec, batch, id_view);
    if (with_classes) classes->update(exec, batch, id_view, make_vector_view<space>(labels + offset, batch.extent(0)));
    bar.update(first + count);
  }
  unitmem_result r;
  const auto units = static_cast<std::size_t>(layout.units);
  r.unitmem.resize(units);
  r.mu_max.resize(units);
  r.mu_rest.resize(units);
  r.argmax.resize(units);
  r.report = acc.finalize(exec, unitmem_outputs<space>{make_vector_view<space>(memory.output(r.unitmem), layout.units),
                                                       make_vector_view<space>(memory.output(r.mu_max), layout.units),
                                                       make_vector_view<space>(memory.output(r.argmax), layout.units),
                                                       make_vector_view<space>(memory.output(r.mu_rest), layout.units)});
  if (with_classes) {
    r.has_classes = true;
    r.classmem.resize(units);
    r.class_mu_max.resize(units);
    r.class_mu_rest.resize(units);
    r.max_class.resize(units);
    r.class_report =
        classes->finalize(exec, classmem_outputs<space>{make_vector_view<space>(memory.output(r.classmem), layout.units),
                                                        make_vector_view<space>(memory.output(r.class_mu_max), layout.units),
                                                        make_vector_view<space>(memory.output(r.max_class), layout.units),
                                                        make_vector_view<space>(memory.output(r.class_mu_rest), layout.units)});
  }
  for (auto* v : {&r.unitmem, &r.mu_max, &r.mu_rest, &r.classmem, &r.class_mu_max, &r.class_mu_rest}) memory.fetch(*v);
  for (auto* v : {&r.argmax, &r.max_class}) memory.fetch(*v);
  return r;
}

template <class T>
struct element_tag {
  using type = T;
};

// Calls fold(element_tag<T>) with T the type the library reads this data as: the stored
// type for float16, bfloat16 and float64, so 16-bit activations go to the backend (and over
// PCIe to a GPU) at their stored size rather than widened on the host; float otherwise.
template <class Fold>
auto in_stored_type(npy::dtype type, Fold&& fold) {
  switch (type) {
    case npy::dtype::f64: return fold(element_tag<double>{});
    case npy::dtype::f16: return fold(element_tag<half>{});
    case npy::dtype::bf16: return fold(element_tag<bfloat16>{});
    default: return fold(element_tag<float>{});
  }
}

template <class Memory>
unitmem_result fold_unitmem_file(const npy::npy_stream& acts, const activation_layout& layout, Memory& memory,
                                 const unitmem_options& options, const sample_info& samples, index_t requested_rows) {
  return in_stored_type(acts.type(), [&](auto tag) {
    return fold_unitmem<typename decltype(tag)::type>(acts, layout, memory, options, samples, requested_rows);
  });
}

template <class T, class Memory>
void fold_alignment(const npy::npy_stream& f, const npy::npy_stream& g, Memory& memory, const alignment_options& options,
                    point_result& point, index_t requested_rows = 0) {
  using space = typename Memory::space;
  const auto& exec = memory.exec;
  const index_t samples = f.rows(), views = f.shape()[1], features = f.row_size() / std::max<index_t>(1, f.shape()[1]);
  alignment_accumulator acc(exec, alignment_shape{samples, views, features}, options);
  const index_t row_size = f.row_size();
  const index_t per_chunk = chunk_rows(samples, 2 * row_size, requested_rows);
  std::vector<T> f_buffer(static_cast<std::size_t>(per_chunk * row_size)), g_buffer(f_buffer.size());
  const std::vector<std::int64_t> row_ids = detail::sequential_ids(samples);  // place() may hand back its data
  const std::int64_t* ids = memory.place(row_ids);
  const progress bar("aligning " + point.name, samples);
  for (index_t first = 0; first < samples; first += per_chunk) {
    const index_t count = std::min(per_chunk, samples - first);
    f.read_rows(first, count, f_buffer.data());
    g.read_rows(first, count, g_buffer.data());
    acc.update(exec,
               representations_sample_major<space>(memory.stage(f_buffer.data(), count * row_size, 0), count, views, features),
               representations_sample_major<space>(memory.stage(g_buffer.data(), count * row_size, 1), count, views, features),
               make_vector_view<space>(ids + first, count));
    bar.update(first + count);
  }
  point.ssl_f.resize(static_cast<std::size_t>(samples));
  point.ssl_g.resize(static_cast<std::size_t>(samples));
  acc.finalize(exec, make_vector_view<space>(memory.output(point.ssl_f), samples),
               make_vector_view<space>(memory.output(point.ssl_g), samples));
  memory.fetch(point.ssl_f);
  memory.fetch(point.ssl_g);
}

// f and g in their shared stored type; files of different types meet as float or double.
template <class Memory>
void fold_alignment_files(const npy::npy_stream& f, const npy::npy_stream& g, Memory& memory, const alignment_options& options,
                          point_result& point, index_t requested_rows) {
  const bool wide = f.type() == npy::dtype::f64 || g.type() == npy::dtype::f64;
  const npy::dtype shared = f.type() == g.type() ? f.type() : wide ? npy::dtype::f64 : npy::dtype::f32;
  in_stored_type(shared, [&](auto tag) {
    fold_alignment<typename decltype(tag)::type>(f, g, memory, options, point, requested_rows);
    return 0;
  });
}

}  // namespace memloc::cli
