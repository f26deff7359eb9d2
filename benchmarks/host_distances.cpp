// Perf-goals case C on the host: the per-sample alignment of f and of g in one update (the
// distances behind SSLMem and LayerMem), N = 5 000 samples in batches of 1 000, V = 10
// views, all 45 view pairs, D <= 2048. Bytes are both encoders' representations read once.
// Baselines compute the same 2 x N mean distances, parallel over samples: a naive loop per
// pair of views with an fp64 sum, and the Gram-matrix form a user of Eigen (or torch.cdist)
// writes, d(i, j)^2 = |x_i|^2 + |x_j|^2 - 2 x_i.x_j.

#include <Eigen/Core>

#include <cmath>
#include <numeric>

#include "host_bench_support.hpp"

namespace memloc_bench {
namespace {

constexpr index_t samples = 5000, batch = 1000, views = 10;

template <class T>
std::int64_t input_bytes(index_t features) {
  return static_cast<std::int64_t>(2 * samples * views * features * static_cast<index_t>(sizeof(T)));
}

template <class T>
void memloc_alignment(benchmark::State& state, index_t features, memloc::distance_kind distance) {
  const auto elements = static_cast<std::size_t>(samples * views * features);
  rotating_inputs<T> f_inputs(elements), g_inputs(elements);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(samples));
  std::iota(ids.begin(), ids.end(), std::int64_t{0});
  const memloc::host_exec exec{};
  memloc::alignment_options options;
  options.distance = distance;
  memloc::alignment_accumulator acc(exec, memloc::alignment_shape{samples, views, features}, options);
  for (auto _ : state) {
    acc.reset(exec);
    const T* f = f_inputs.next();
    const T* g = g_inputs.next();
    for (index_t first = 0; first < samples; first += batch) {
      const index_t offset = first * views * features;
      acc.update(exec, memloc::representations_sample_major(f + offset, batch, views, features),
                 memloc::representations_sample_major(g + offset, batch, views, features),
                 memloc::make_vector_view(ids.data() + first, batch));
    }
  }
  set_throughput(state, input_bytes<T>(features), 2 * samples * views * features);
}

double naive_mean_distance(const float* sample, index_t features) {
  double total = 0.0;
  for (index_t i = 0; i < views; ++i) {
    for (index_t j = i + 1; j < views; ++j) {
      double squares = 0.0;
      for (index_t k = 0; k < features; ++k) {
        const double d = static_cast<double>(sample[i * features + k]) - static_cast<double>(sample[j * features + k]);
        squares += d * d;
      }
      total += std::sqrt(squares);
    }
  }
  return total / static_cast<double>(views * (views - 1) / 2);
}

double gram_mean_distance(const float* sample, index_t features) {
  const Eigen::Map<const Eigen::MatrixXf> x(sample, features, views);
  const Eigen::MatrixXf gram = x.transpose() * x;
  const Eigen::VectorXf norms = gram.diagonal();
  const Eigen::MatrixXf squares = (norms.replicate(1, views) + norms.transpose().replicate(views, 1) - 2.0f * gram);
  // The full symmetric matrix holds every pair twice and a zero diagonal.
  return static_cast<double>(squares.cwiseMax(0.0f).cwiseSqrt().sum()) / static_cast<double>(views * (views - 1));
}

template <double (*Distance)(const float*, index_t)>
void baseline(benchmark::State& state, index_t features) {
  const auto elements = static_cast<std::size_t>(samples * views * features);
  rotating_inputs<float> f_inputs(elements), g_inputs(elements);
  std::vector<double> f_out(static_cast<std::size_t>(samples)), g_out(static_cast<std::size_t>(samples));
  for (auto _ : state) {
    const float* f = f_inputs.next();
    const float* g = g_inputs.next();
#pragma omp parallel for schedule(static)
    for (index_t b = 0; b < samples; ++b) {
      f_out[static_cast<std::size_t>(b)] = Distance(f + b * views * features, features);
      g_out[static_cast<std::size_t>(b)] = Distance(g + b * views * features, features);
    }
    benchmark::DoNotOptimize(f_out.data());
    benchmark::DoNotOptimize(g_out.data());
  }
  set_throughput(state, input_bytes<float>(features), 2 * samples * views * features);
}

template <class T>
void register_case(index_t features, memloc::distance_kind distance, bool baselines) {
  const std::string name = "distances/C_D" + std::to_string(features) + "_" + memloc::to_string(distance) + "_" +
                           dtype_name<T>() + "/";
  add(name + "roofline", read_roofline, input_bytes<T>(features));
  add(name + "memloc", memloc_alignment<T>, features, distance);
  if (!baselines) return;
  add(name + "naive", baseline<naive_mean_distance>, features);
  add(name + "eigen", baseline<gram_mean_distance>, features);
}

}  // namespace

void register_distance_cases() {
  for (const index_t features : {index_t{128}, index_t{512}, index_t{2048}}) {
    register_case<float>(features, memloc::distance_kind::l2, true);
    register_case<float>(features, memloc::distance_kind::cosine, false);
    register_case<memloc::bfloat16>(features, memloc::distance_kind::l2, false);
  }
}

}  // namespace memloc_bench
