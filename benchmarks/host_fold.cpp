// Perf-goals cases A1-A7 and A9 on the host: one UnitMem (or ClassMem) update, the μ fold
// over views and positions plus the per-unit state, against the machine (the in-run read
// roofline over the same bytes) and against what a user would write instead: the naive
// per-(sample, unit) loop and an Eigen one-liner per sample, both parallel over samples
// and both computing μ only, without the state that memloc's update also keeps. Batches
// are the GPU shapes with fewer samples, so each input is 64-256 MB.

#include <Eigen/Core>
#include <omp.h>

#include <numeric>

#include "host_bench_support.hpp"

namespace memloc_bench {
namespace {

struct fold_case {
  const char* name;
  index_t samples, views, units, positions;
  std::size_t elements() const { return static_cast<std::size_t>(samples * views * units * positions); }
};

constexpr fold_case a1{"A1_prep", 64, 10, 64, 1024};
constexpr fold_case a2{"A2_layer1", 100, 10, 128, 256};
constexpr fold_case a3{"A3_layer2", 200, 10, 256, 64};
constexpr fold_case a4{"A4_layer3", 400, 10, 512, 16};
constexpr fold_case a5{"A5_last_conv", 3200, 10, 256, 4};
constexpr fold_case a6{"A6_vit_mlp", 8, 10, 3072, 197};
constexpr fold_case a7{"A7_vit_mlp", 8, 10, 3072, 197};  // A6 in token-major order

enum class layout { nchw, token_major };

template <class T>
std::int64_t input_bytes(const fold_case& c) {
  return static_cast<std::int64_t>(c.elements() * sizeof(T));
}

template <class T>
memloc::activations_view<const T> batch_view(const T* data, const fold_case& c, layout l) {
  return l == layout::token_major ? memloc::token_major(data, c.samples, c.views, c.positions, c.units)
                                  : memloc::nchw_sample_major(data, c.samples, c.views, c.units, 1, c.positions);
}

std::vector<std::int64_t> sequential_ids(index_t n) {
  std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
  std::iota(ids.begin(), ids.end(), std::int64_t{0});
  return ids;
}

template <class T>
void memloc_unitmem_update(benchmark::State& state, fold_case c, layout l) {
  rotating_inputs<T> inputs(c.elements());
  const auto ids = sequential_ids(c.samples);
  const memloc::host_exec exec{};
  memloc::unitmem_accumulator acc(exec, memloc::unitmem_shape{c.samples, c.units, c.views, c.positions});
  for (auto _ : state) {
    acc.reset(exec);
    acc.update(exec, batch_view(inputs.next(), c, l), memloc::make_vector_view(ids.data(), c.samples));
  }
  set_throughput(state, input_bytes<T>(c), static_cast<std::int64_t>(c.elements()));
}

void memloc_classmem_update(benchmark::State& state, fold_case c, index_t classes) {
  rotating_inputs<float> inputs(c.elements());
  const auto ids = sequential_ids(c.samples);
  std::vector<std::int64_t> labels(ids.size());
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>(i) % classes;
  const memloc::host_exec exec{};
  memloc::classmem_accumulator acc(exec, memloc::classmem_shape{c.samples, c.units, c.views, c.positions, classes});
  for (auto _ : state) {
    acc.reset(exec);
    acc.update(exec, batch_view(inputs.next(), c, layout::nchw), memloc::make_vector_view(ids.data(), c.samples),
               memloc::make_vector_view(labels.data(), c.samples));
  }
  set_throughput(state, input_bytes<float>(c), static_cast<std::int64_t>(c.elements()));
}

template <class T>
float as_float(T x) noexcept {
  return memloc::to_float(x);
}

// The first loop a user writes: for each (sample, unit), add up its views and positions.
template <class T>
void naive_loop(benchmark::State& state, fold_case c, layout l) {
  rotating_inputs<T> inputs(c.elements());
  std::vector<float> mu(static_cast<std::size_t>(c.samples * c.units));
  const double count = static_cast<double>(c.views * c.positions);
  for (auto _ : state) {
    const T* data = inputs.next();
#pragma omp parallel for schedule(static)
    for (index_t b = 0; b < c.samples; ++b) {
      for (index_t u = 0; u < c.units; ++u) {
        double sum = 0.0;
        for (index_t v = 0; v < c.views; ++v) {
          for (index_t s = 0; s < c.positions; ++s) {
            const index_t at = l == layout::nchw ? ((b * c.views + v) * c.units + u) * c.positions + s
                                                 : ((b * c.views + v) * c.positions + s) * c.units + u;
            sum += static_cast<double>(as_float(data[at]));
          }
        }
        mu[static_cast<std::size_t>(b * c.units + u)] = static_cast<float>(sum / count);
      }
    }
    benchmark::DoNotOptimize(mu.data());
  }
  set_throughput(state, input_bytes<T>(c), static_cast<std::int64_t>(c.elements()));
}

// What a user of Eigen writes: per sample, the [positions x units x views] block as a matrix,
// one `sum` expression per axis (fp32 inputs only: Eigen has no bf16 in this form).
void eigen_one_liner(benchmark::State& state, fold_case c, layout l) {
  rotating_inputs<float> inputs(c.elements());
  Eigen::MatrixXf mu(c.units, c.samples);
  const float scale = 1.0f / static_cast<float>(c.views * c.positions);
  const index_t per_sample = c.views * c.units * c.positions;
  for (auto _ : state) {
    const float* data = inputs.next();
#pragma omp parallel for schedule(static)
    for (index_t b = 0; b < c.samples; ++b) {
      if (l == layout::nchw) {
        const Eigen::Map<const Eigen::MatrixXf> slabs(data + b * per_sample, c.positions * c.units, c.views);
        mu.col(b) = Eigen::Map<const Eigen::MatrixXf>(Eigen::VectorXf(slabs.rowwise().sum()).data(), c.positions, c.units)
                        .colwise()
                        .sum()
                        .transpose() *
                    scale;
      } else {
        const Eigen::Map<const Eigen::MatrixXf> rows(data + b * per_sample, c.units, c.views * c.positions);
        mu.col(b) = rows.rowwise().sum() * scale;
      }
    }
    benchmark::DoNotOptimize(mu.data());
  }
  set_throughput(state, input_bytes<float>(c), static_cast<std::int64_t>(c.elements()));
}

template <class T>
void register_case(const fold_case& c, layout l, bool baselines) {
  const std::string name = std::string("fold/") + c.name + (l == layout::token_major ? "_token_major_" : "_") +
                           dtype_name<T>() + "/";
  add(name + "roofline", read_roofline, input_bytes<T>(c));
  add(name + "memloc", memloc_unitmem_update<T>, c, l);
  if (!baselines) return;
  add(name + "naive", naive_loop<T>, c, l);
  if constexpr (std::is_same_v<T, float>) add(name + "eigen", eigen_one_liner, c, l);
}

}  // namespace

void register_fold_cases() {
  register_case<float>(a1, layout::nchw, true);
  register_case<memloc::bfloat16>(a1, layout::nchw, true);
  register_case<float>(a2, layout::nchw, true);
  register_case<float>(a3, layout::nchw, true);
  register_case<float>(a3, layout::token_major, true);
  register_case<float>(a4, layout::nchw, true);
  register_case<memloc::bfloat16>(a4, layout::nchw, true);
  register_case<float>(a5, layout::nchw, true);
  register_case<memloc::bfloat16>(a6, layout::nchw, true);
  register_case<memloc::bfloat16>(a7, layout::token_major, true);
  for (const index_t classes : {index_t{10}, index_t{1000}}) {
    const std::string name = "fold/A9_classmem_" + std::to_string(classes) + "_classes_fp32/";
    add(name + "roofline", read_roofline, input_bytes<float>(a4));
    add(name + "memloc", memloc_classmem_update, a4, classes);
  }
}

}  // namespace memloc_bench
