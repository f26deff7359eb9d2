// Perf-goals case B on the host: UnitMem from a μ[N, U] matrix that is already folded (one
// view, one position per sample), N = 50 000. The mean variant keeps the per-unit state
// (maximum with its sample, fp64 sum); the median variant keeps every μ and selects the
// median of the others per unit at finalize. Each iteration runs update and finalize.
// Baselines: a per-unit loop down each column (what a user writes first) and Eigen's
// column reductions; for the median, a per-unit copy of the column and std::nth_element.

#include <Eigen/Core>

#include <algorithm>
#include <numeric>

#include "host_bench_support.hpp"

namespace memloc_bench {
namespace {

constexpr index_t samples = 50000;

std::int64_t matrix_bytes(index_t units) { return static_cast<std::int64_t>(samples * units * 4 + units * 8); }

void memloc_unitmem(benchmark::State& state, index_t units, memloc::rest_reduction rest) {
  rotating_inputs<float> inputs(static_cast<std::size_t>(samples * units));
  std::vector<std::int64_t> ids(static_cast<std::size_t>(samples));
  std::iota(ids.begin(), ids.end(), std::int64_t{0});
  std::vector<double> unitmem(static_cast<std::size_t>(units));
  const memloc::host_exec exec{};
  memloc::unitmem_options options;
  options.rest = rest;
  memloc::unitmem_accumulator acc(exec, memloc::unitmem_shape{samples, units, 1, 1}, options);
  for (auto _ : state) {
    acc.reset(exec);
    acc.update(exec, memloc::dense_sample_major(inputs.next(), samples, 1, units),
               memloc::make_vector_view(ids.data(), samples));
    benchmark::DoNotOptimize(acc.finalize(exec, {memloc::make_vector_view(unitmem.data(), units)}));
  }
  set_throughput(state, matrix_bytes(units), samples * units);
}

// The median's finalize alone, over a state updated once before the timing: the selection
// and the sweep of the per-sample sums that feeds it, without the reset and update that
// memloc_unitmem also times.
void memloc_median_finalize(benchmark::State& state, index_t units) {
  std::vector<float> mu = filled_buffer<float>(static_cast<std::size_t>(samples * units), 1);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(samples));
  std::iota(ids.begin(), ids.end(), std::int64_t{0});
  std::vector<double> unitmem(static_cast<std::size_t>(units));
  const memloc::host_exec exec{};
  memloc::unitmem_options options;
  options.rest = memloc::rest_reduction::median;
  memloc::unitmem_accumulator acc(exec, memloc::unitmem_shape{samples, units, 1, 1}, options);
  acc.update(exec, memloc::dense_sample_major(mu.data(), samples, 1, units),
             memloc::make_vector_view(ids.data(), samples));
  for (auto _ : state) {
    benchmark::DoNotOptimize(acc.finalize(exec, {memloc::make_vector_view(unitmem.data(), units)}));
  }
  // What it reads: every sample's μ, kept in fp32 for one view and one position.
  set_throughput(state, samples * units * 4, samples * units);
}

double selectivity(double top, double rest) { return (top - rest) / (top + rest); }

// Down each column: the maximum, its first row, and the mean of the others.
void naive_mean(benchmark::State& state, index_t units) {
  rotating_inputs<float> inputs(static_cast<std::size_t>(samples * units));
  std::vector<double> unitmem(static_cast<std::size_t>(units));
  for (auto _ : state) {
    const float* mu = inputs.next();
#pragma omp parallel for schedule(static)
    for (index_t u = 0; u < units; ++u) {
      float top = mu[u];
      double sum = 0.0;
      for (index_t b = 0; b < samples; ++b) {
        const float x = mu[b * units + u];
        top = std::max(top, x);
        sum += static_cast<double>(x);
      }
      unitmem[static_cast<std::size_t>(u)] = selectivity(top, (sum - top) / static_cast<double>(samples - 1));
    }
    benchmark::DoNotOptimize(unitmem.data());
  }
  set_throughput(state, matrix_bytes(units), samples * units);
}

void eigen_mean(benchmark::State& state, index_t units) {
  rotating_inputs<float> inputs(static_cast<std::size_t>(samples * units));
  Eigen::ArrayXd unitmem(units);
  for (auto _ : state) {
    // Row-major μ[N, U] seen column-major: units are rows, samples are columns.
    const Eigen::Map<const Eigen::MatrixXf> mu(inputs.next(), units, samples);
    const Eigen::ArrayXd top = mu.rowwise().maxCoeff().cast<double>().array();
    const Eigen::ArrayXd rest = (mu.cast<double>().rowwise().sum().array() - top) / static_cast<double>(samples - 1);
    unitmem = (top - rest) / (top + rest);
    benchmark::DoNotOptimize(unitmem.data());
  }
  set_throughput(state, matrix_bytes(units), samples * units);
}

void naive_median(benchmark::State& state, index_t units) {
  rotating_inputs<float> inputs(static_cast<std::size_t>(samples * units));
  std::vector<double> unitmem(static_cast<std::size_t>(units));
  for (auto _ : state) {
    const float* mu = inputs.next();
#pragma omp parallel
    {
      std::vector<float> column(static_cast<std::size_t>(samples));
#pragma omp for schedule(static)
      for (index_t u = 0; u < units; ++u) {
        for (index_t b = 0; b < samples; ++b) column[static_cast<std::size_t>(b)] = mu[b * units + u];
        const auto top = std::max_element(column.begin(), column.end());
        const float top_value = *top;
        std::iter_swap(top, column.end() - 1);
        const auto middle = column.begin() + (samples - 1) / 2;
        std::nth_element(column.begin(), middle, column.end() - 1);
        const double upper = *middle;
        const double lower = (samples - 1) % 2 == 1 ? upper : *std::max_element(column.begin(), middle);
        unitmem[static_cast<std::size_t>(u)] = selectivity(top_value, 0.5 * (lower + upper));
      }
    }
    benchmark::DoNotOptimize(unitmem.data());
  }
  set_throughput(state, matrix_bytes(units), samples * units);
}

}  // namespace

void register_column_stats_cases() {
  for (const index_t units : {index_t{64}, index_t{256}, index_t{512}, index_t{3072}}) {
    const std::string mean = "stats/B_mean_N50000_U" + std::to_string(units) + "/";
    add(mean + "roofline", read_roofline, matrix_bytes(units));
    add(mean + "memloc", memloc_unitmem, units, memloc::rest_reduction::mean);
    add(mean + "naive", naive_mean, units);
    add(mean + "eigen", eigen_mean, units);
  }
  for (const index_t units : {index_t{64}, index_t{512}}) {
    const std::string median = "stats/B_median_N50000_U" + std::to_string(units) + "/";
    add(median + "roofline", read_roofline, matrix_bytes(units));
    add(median + "memloc", memloc_unitmem, units, memloc::rest_reduction::median);
    add(median + "naive", naive_median, units);
    const std::string finalize = "stats/B_median_finalize_N50000_U" + std::to_string(units) + "/";
    add(finalize + "roofline", read_roofline, samples * units * 4);
    add(finalize + "memloc", memloc_median_finalize, units);
  }
}

}  // namespace memloc_bench
