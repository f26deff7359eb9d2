#include "measure.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "augment.hpp"

namespace ssl_demo {

namespace {

const memloc::host_exec exec{};

template <class Accumulators>
std::int64_t state_bytes(Accumulators& accumulators) {
  std::int64_t bytes = 0;
  for (auto& accumulator : accumulators) {
    for (const auto& buffer : accumulator.state_buffers()) bytes += static_cast<std::int64_t>(buffer.count * memloc::state_element_bytes(buffer.element));
  }
  return bytes;
}

// memloc reads the buffer in place, so it must be the float CPU memory the view describes;
// the encoder's ReLU outputs and residual sums are, and a silent copy would hide a change.
const float* raw_buffer(const torch::Tensor& activation, const measurement_point_info& point, std::int64_t rows) {
  if (!activation.device().is_cpu() || activation.scalar_type() != torch::kFloat32 || !activation.is_contiguous()) {
    throw std::logic_error("measurement point " + point.name + ": expected a contiguous float CPU tensor, got " +
                           activation.toString() + (activation.is_contiguous() ? "" : " (not contiguous)"));
  }
  const std::vector<std::int64_t> expected{rows, point.channels, point.height, point.width};
  if (activation.sizes().vec() != expected) {
    throw std::logic_error("measurement point " + point.name + ": expected shape " + c10::str(c10::IntArrayRef(expected)) +
                           ", got " + c10::str(activation.sizes()));
  }
  return activation.data_ptr<float>();
}

// The batch being folded: which samples, their labels, and how many views each.
struct batch_ids {
  torch::Tensor ids, labels;  // int64, one per sample of the batch
  std::int64_t samples = 0, views = 0;
  std::int64_t rows() const { return samples * views; }
  memloc::vector_view<const std::int64_t> id_view() const {
    return memloc::make_vector_view<memloc::host_space>(ids.data_ptr<std::int64_t>(), samples);
  }
  memloc::vector_view<const std::int64_t> label_view() const {
    return memloc::make_vector_view<memloc::host_space>(labels.data_ptr<std::int64_t>(), samples);
  }
};

// Observes f: folds conv points into UnitMem (and ClassMem), and keeps a reference to every
// point's tensor so that g's pass can align against the same buffers.
class f_observer final : public activation_observer {
 public:
  f_observer(const std::vector<measurement_point_info>& points, std::int64_t samples, const measurement_setup& setup, bool keep)
      : points_(points), keep_(keep) {
    kept_.resize(points.size());
    for (std::size_t p = 0; p < points.size(); ++p) {
      const auto& point = points[p];
      conv_index_.push_back(units_.size());
      if (!point.is_conv) continue;
      const auto positions = point.height * point.width;
      units_.emplace_back(exec, memloc::unitmem_shape{samples, point.channels, setup.views, positions});
      if (setup.with_classes) {
        classes_.emplace_back(exec, memloc::classmem_shape{samples, point.channels, setup.views, positions, setup.classes});
      }
    }
  }

  void start(const batch_ids& batch) { batch_ = &batch; }

  void observe(std::size_t point, const torch::Tensor& activation) override {
    const auto& info = points_[point];
    const float* data = raw_buffer(activation, info, batch_->rows());
    if (keep_) kept_[point] = activation;
    if (!info.is_conv) return;
    const auto layer = conv_index_[point];
    const auto view = memloc::nchw_sample_major(data, batch_->samples, batch_->views, info.channels, info.height, info.width);
    units_[layer].update(exec, view, batch_->id_view());
    if (!classes_.empty()) classes_[layer].update(exec, view, batch_->id_view(), batch_->label_view());
  }

  const torch::Tensor& kept(std::size_t point) const { return kept_[point]; }

  std::int64_t memloc_state_bytes() { return state_bytes(units_) + state_bytes(classes_); }

  unit_measurement finalize() const {
    unit_measurement result;
    std::size_t layer = 0;
    for (const auto& info : points_) {
      if (!info.is_conv) continue;
      const auto units = info.channels;
      std::vector<double> unitmem(static_cast<std::size_t>(units));
      std::vector<std::int64_t> argmax(unitmem.size());
      result.unit_reports.push_back(units_[layer].finalize(
          exec, {memloc::make_vector_view(unitmem.data(), units), {}, memloc::make_vector_view(argmax.data(), units)}));
      result.layers.push_back(info.name);
      result.unitmem.push_back(std::move(unitmem));
      result.argmax.push_back(std::move(argmax));
      if (!classes_.empty()) {
        std::vector<double> classmem(static_cast<std::size_t>(units));
        result.class_reports.push_back(classes_[layer].finalize(exec, {memloc::make_vector_view(classmem.data(), units)}));
        result.classmem.push_back(std::move(classmem));
      }
      ++layer;
    }
    return result;
  }

 private:
  const std::vector<measurement_point_info>& points_;
  std::vector<std::size_t> conv_index_;  // per point: its conv layer's accumulator
  bool keep_;
  const batch_ids* batch_ = nullptr;
  std::vector<memloc::unitmem_accumulator<memloc::host_space>> units_;
  std::vector<memloc::classmem_accumulator<memloc::host_space>> classes_;
  std::vector<torch::Tensor> kept_;
};

// Observes g on the views f just saw, and folds the pair (f, g) at each point into that
// point's alignment accumulator.
class g_observer final : public activation_observer {
 public:
  g_observer(const std::vector<measurement_point_info>& points, std::int64_t samples, const measurement_setup& setup,
             const f_observer& f)
      : points_(points), f_(f) {
    for (const auto& point : points) alignments_.emplace_back(exec, memloc::alignment_shape{samples, setup.views, point.features()});
  }

  void start(const batch_ids& batch) { batch_ = &batch; }

  void observe(std::size_t point, const torch::Tensor& activation) override {
    const auto& info = points_[point];
    const float* g_data = raw_buffer(activation, info, batch_->rows());
    const float* f_data = raw_buffer(f_.kept(point), info, batch_->rows());
    alignments_[point].update(exec, memloc::representations_sample_major(f_data, batch_->samples, batch_->views, info.features()),
                              memloc::representations_sample_major(g_data, batch_->samples, batch_->views, info.features()),
                              batch_->id_view());
  }

  std::int64_t memloc_state_bytes() { return state_bytes(alignments_); }

  alignment_measurement finalize(std::int64_t samples) const {
    alignment_measurement result;
    for (const auto& accumulator : alignments_) {
      std::vector<double> f(static_cast<std::size_t>(samples)), g(f.size());
      accumulator.finalize(exec, memloc::make_vector_view(f.data(), samples), memloc::make_vector_view(g.data(), samples));
      result.ssl_f.push_back(std::move(f));
      result.ssl_g.push_back(std::move(g));
    }
    return result;
  }

 private:
  const std::vector<measurement_point_info>& points_;
  const f_observer& f_;
  const batch_ids* batch_ = nullptr;
  std::vector<memloc::alignment_accumulator<memloc::host_space>> alignments_;
};

unit_measurement measure(encoder& f, encoder* g, const image_set& samples, const measurement_setup& setup, at::Generator& generator,
                         alignment_measurement* alignment) {
  torch::NoGradGuard no_grad;
  const bool f_was_training = f->is_training();
  f->eval();
  if (g != nullptr) (*g)->eval();
  const auto n = samples.size();
  const auto& points = f->points();
  f_observer f_obs(points, n, setup, g != nullptr);
  std::unique_ptr<g_observer> g_obs;
  if (g != nullptr) g_obs = std::make_unique<g_observer>(points, n, setup, f_obs);
  for (std::int64_t first = 0; first < n; first += setup.batch_samples) {
    const auto count = std::min(setup.batch_samples, n - first);
    batch_ids batch{torch::arange(first, first + count, torch::kInt64), samples.labels.narrow(0, first, count).contiguous(), count, setup.views};
    const auto views = augment(samples.images.narrow(0, first, count), setup.views, setup.policy, generator);
    f_obs.start(batch);
    f(views, &f_obs);
    if (g_obs) {
      g_obs->start(batch);
      (*g)(views, g_obs.get());
    }
  }
  if (f_was_training) f->train();
  if (g_obs) *alignment = g_obs->finalize(n);
  auto result = f_obs.finalize();
  result.memloc_state_bytes = f_obs.memloc_state_bytes() + (g_obs ? g_obs->memloc_state_bytes() : 0);
  return result;
}

}  // namespace

unit_measurement measure_units(encoder& f, const image_set& samples, const measurement_setup& setup, at::Generator& generator) {
  return measure(f, nullptr, samples, setup, generator, nullptr);
}

unit_measurement measure_units_and_alignment(encoder& f, encoder& g, const image_set& samples, const measurement_setup& setup,
                                             at::Generator& generator, alignment_measurement& alignment) {
  return measure(f, &g, samples, setup, generator, &alignment);
}

}  // namespace ssl_demo
