// The CUDA UnitMem/ClassMem update and finalize on the perf-goals shapes (A1-A9, B), next to
// what the card delivers in the same run (a read-only sum over the same bytes and a
// device-to-device copy) and to the μ fold a user composes from CUB. Timed with CUDA events
// on one stream (manual time); bytes are the activations read once. Inputs of the A cases
// are 168 MB or more, so L2 does not flatter them; A8 is a latency case.

#include <benchmark/benchmark.h>

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <cub/device/device_segmented_reduce.cuh>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/permutation_iterator.h>
#include <thrust/iterator/transform_iterator.h>

#include <algorithm>

#include <memloc/memloc.cuh>

#include "cuda_bench_support.cuh"

namespace {

using namespace bench;

struct fold_case {
  index_t samples, views, units, positions;
  index_t elements() const { return samples * views * units * positions; }
};

constexpr fold_case a1{256, 10, 64, 1024}, a2{256, 10, 128, 256}, a3{512, 10, 256, 64}, a4{1024, 10, 512, 16},
    a5{8192, 10, 256, 4}, a6{64, 10, 3072, 197}, a8{32, 10, 128, 16};

struct to_float_op {
  __host__ __device__ float operator()(float x) const { return x; }
  __host__ __device__ float operator()(memloc::bfloat16 x) const { return memloc::to_float(x); }
};

template <class T>
void roofline(benchmark::State& state, fold_case c, bool copying) {
  roofline_bytes(state, c.elements() * static_cast<index_t>(sizeof(T)), copying);
}

// One UnitMem update (fold and state) per iteration, state reset between iterations.
template <class T>
void unitmem_update(benchmark::State& state, fold_case c, bool token_major) {
  device_memory<T> data(c.elements());
  device_memory<std::int64_t> ids(c.samples);
  const auto stream = bench_stream();
  fill_random_async(data.data, c.elements(), stream);
  fill_ids_async(ids.data, c.samples, 0, 64, stream);
  const memloc::cuda_exec exec{stream};
  memloc::unitmem_accumulator acc(exec, memloc::unitmem_shape{c.samples, c.units, c.views, c.positions});
  const auto batch = token_major ? memloc::token_major<memloc::device_space>(data.data, c.samples, c.views, c.positions, c.units)
                                 : memloc::nchw_sample_major<memloc::device_space>(data.data, c.samples, c.views, c.units, 1,
                                                                                   c.positions);
  const auto id_view = memloc::make_vector_view<memloc::device_space>(ids.data, c.samples);
  event_timer timer;
  for (auto _ : state) {
    acc.reset(exec);
    state.SetIterationTime(timer.seconds(stream, [&] { acc.update(exec, batch, id_view); }));
  }
  set_throughput(state, c.elements() * static_cast<index_t>(sizeof(T)), c.elements());
}

void classmem_update(benchmark::State& state, fold_case c, index_t classes) {
  device_memory<float> data(c.elements());
  device_memory<std::int64_t> ids(c.samples), labels(c.samples);
  const auto stream = bench_stream();
  fill_random_async(data.data, c.elements(), stream);
  fill_ids_async(ids.data, c.samples, 0, 64, stream);
  fill_ids_async(labels.data, c.samples, classes, 64, stream);
  const memloc::cuda_exec exec{stream};
  memloc::classmem_accumulator acc(exec, memloc::classmem_shape{c.samples, c.units, c.views, c.positions, classes});
  const auto batch = memloc::nchw_sample_major<memloc::device_space>(data.data, c.samples, c.views, c.units, 1, c.positions);
  event_timer timer;
  for (auto _ : state) {
    acc.reset(exec);
    state.SetIterationTime(timer.seconds(stream, [&] {
      acc.update(exec, batch, memloc::make_vector_view<memloc::device_space>(ids.data, c.samples),
                 memloc::make_vector_view<memloc::device_space>(labels.data, c.samples));
    }));
  }
  set_throughput(state, c.elements() * 4, c.elements());
}

// B: UnitMem from a μ[N, U] matrix (one view, one position): the mean variant's update
// keeps the per-unit maxima and sums, its finalize is O(U); the median variant keeps every
// μ and selects the medians at finalize. Both are timed update plus finalize; bytes are the
// μ matrix read once. `finalize_only` times the finalize alone after one update outside the
// timing (a pass for the maxima, then the median's radix selection, whose four or five
// counting passes each read the [N, U] fp64 state; bytes are then that state read once).
void unitmem_from_mu(benchmark::State& state, index_t samples, index_t units, bool median, bool finalize_only) {
  const fold_case c{samples, 1, units, 1};
  device_memory<float> data(c.elements());
  device_memory<std::int64_t> ids(samples);
  device_memory<double> out(units);
  const auto stream = bench_stream();
  fill_random_async(data.data, c.elements(), stream);
  fill_ids_async(ids.data, samples, 0, 64, stream);
  const memloc::cuda_exec exec{stream};
  memloc::unitmem_accumulator acc(exec, memloc::unitmem_shape{samples, units, 1, 1},
                                  {median ? memloc::rest_reduction::median : memloc::rest_reduction::mean});
  const auto mu = memloc::dense_sample_major<memloc::device_space>(static_cast<const float*>(data.data), samples, 1, units);
  const auto id_view = memloc::make_vector_view<memloc::device_space>(ids.data, samples);
  const memloc::unitmem_outputs<memloc::device_space> outputs{memloc::make_vector_view<memloc::device_space>(out.data, units)};
  event_timer timer;
  if (finalize_only) {
    acc.update(exec, mu, id_view);
    for (auto _ : state) {
      state.SetIterationTime(timer.seconds(stream, [&] { benchmark::DoNotOptimize(acc.finalize(exec, outputs)); }));
    }
    set_throughput(state, samples * units * 8, samples * units);
    return;
  }
  for (auto _ : state) {
    acc.reset(exec);
    state.SetIterationTime(timer.seconds(stream, [&] {
      acc.update(exec, mu, id_view);
      benchmark::DoNotOptimize(acc.finalize(exec, outputs));
    }));
  }
  set_throughput(state, samples * units * 4, samples * units);
}

// The per_sample update of a batch whose rows carry one view each: `rows` rows over
// `samples` ids (row r is a view of sample r % samples), so with rows > samples every id
// repeats within the batch and the rows are grouped by id before they are added. Timed
// update (fold, grouping, state), state reset between iterations.
void per_sample_update(benchmark::State& state, index_t rows, index_t samples, index_t units) {
  const fold_case c{rows, 1, units, 1};
  device_memory<float> data(c.elements());
  device_memory<std::int64_t> ids(rows);
  const auto stream = bench_stream();
  fill_random_async(data.data, c.elements(), stream);
  fill_ids_async(ids.data, rows, samples, 64, stream);
  const memloc::cuda_exec exec{stream};
  const memloc::unitmem_options options{memloc::rest_reduction::median, memloc::activation_transform::none,
                                        memloc::unitmem_storage::per_sample};
  memloc::unitmem_accumulator acc(exec, memloc::unitmem_shape{samples, units, rows / samples, 1}, options);
  const auto batch = memloc::dense_sample_major<memloc::device_space>(static_cast<const float*>(data.data), rows, 1, units);
  const auto id_view = memloc::make_vector_view<memloc::device_space>(ids.data, rows);
  event_timer timer;
  for (auto _ : state) {
    acc.reset(exec);
    state.SetIterationTime(timer.seconds(stream, [&] { acc.update(exec, batch, id_view); }));
  }
  set_throughput(state, c.elements() * 4, c.elements());
}

// What a user composes from CUB for the μ fold of an NCHW batch: one segmented sum over
// each (sample, view, unit) row of positions, then one over each (sample, unit)'s views,
// read through a permutation so they form contiguous segments. The totals only (μ times
// V·S, a division short of μ), without the state.
struct view_major_index {
  index_t views, units;
  __host__ __device__ index_t operator()(index_t i) const {
    // i enumerates (sample, unit, view); the partial sums are laid out (sample, view, unit).
    const index_t v = i % views, u = (i / views) % units, b = i / (views * units);
    return (b * views + v) * units + u;
  }
};

struct segment_offset {
  index_t length;
  __host__ __device__ index_t operator()(index_t i) const { return i * length; }
};

template <class T>
void cub_fold(benchmark::State& state, fold_case c) {
  device_memory<T> data(c.elements());
  const index_t rows = c.samples * c.views * c.units, pairs = c.samples * c.units;
  device_memory<float> row_sums(rows), mu(pairs);
  const auto stream = bench_stream();
  fill_random_async(data.data, c.elements(), stream);
  const auto converted = thrust::make_transform_iterator(data.data, to_float_op{});
  const auto row_offsets = thrust::make_transform_iterator(thrust::counting_iterator<index_t>(0), segment_offset{c.positions});
  const auto permuted = thrust::make_permutation_iterator(
      row_sums.data, thrust::make_transform_iterator(thrust::counting_iterator<index_t>(0), view_major_index{c.views, c.units}));
  const auto view_offsets = thrust::make_transform_iterator(thrust::counting_iterator<index_t>(0), segment_offset{c.views});
  std::size_t first_bytes = 0, second_bytes = 0;
  require(cub::DeviceSegmentedReduce::Sum(nullptr, first_bytes, converted, row_sums.data, rows, row_offsets, row_offsets + 1,
                                          stream),
          "cub size");
  require(cub::DeviceSegmentedReduce::Sum(nullptr, second_bytes, permuted, mu.data, pairs, view_offsets, view_offsets + 1,
                                          stream),
          "cub size");
  device_memory<unsigned char> temp(static_cast<index_t>(std::max(first_bytes, second_bytes)) + 1);
  event_timer timer;
  for (auto _ : state) {
    state.SetIterationTime(timer.seconds(stream, [&] {
      std::size_t bytes = first_bytes;
      require(cub::DeviceSegmentedReduce::Sum(temp.data, bytes, converted, row_sums.data, rows, row_offsets,
                                              row_offsets + 1, stream),
              "cub segmented sum");
      bytes = second_bytes;
      require(cub::DeviceSegmentedReduce::Sum(temp.data, bytes, permuted, mu.data, pairs, view_offsets, view_offsets + 1,
                                              stream),
              "cub segmented sum");
    }));
  }
  set_throughput(state, c.elements() * static_cast<index_t>(sizeof(T)), c.elements());
}

void register_all() {
  struct named {
    const char* name;
    fold_case c;
  };
  const named cases[] = {{"A1_prep", a1}, {"A2_layer1", a2}, {"A3_layer2", a3}, {"A4_layer3", a4}, {"A5_last_conv", a5}};
  auto add = [](const std::string& name, auto&&... args) {
    return benchmark::RegisterBenchmark(name.c_str(), args...)->UseManualTime()->Unit(benchmark::kMicrosecond);
  };
  for (const auto& k : cases) {
    const std::string n = std::string("fold/") + k.name + "_fp32/";
    add(n + "roofline_read", roofline<float>, k.c, false);
    add(n + "roofline_copy", roofline<float>, k.c, true);
    add(n + "memloc", unitmem_update<float>, k.c, false);
    add(n + "cub", cub_fold<float>, k.c);
  }
  for (const auto& k : {named{"A1_prep", a1}, named{"A4_layer3", a4}}) {
    const std::string n = std::string("fold/") + k.name + "_bf16/";
    add(n + "roofline_read", roofline<memloc::bfloat16>, k.c, false);
    add(n + "roofline_copy", roofline<memloc::bfloat16>, k.c, true);
    add(n + "memloc", unitmem_update<memloc::bfloat16>, k.c, false);
    add(n + "cub", cub_fold<memloc::bfloat16>, k.c);
  }
  add("fold/A6_vit_mlp_bf16/roofline_read", roofline<memloc::bfloat16>, a6, false);
  add("fold/A6_vit_mlp_bf16/roofline_copy", roofline<memloc::bfloat16>, a6, true);
  add("fold/A6_vit_mlp_bf16/memloc", unitmem_update<memloc::bfloat16>, a6, false);
  add("fold/A6_vit_mlp_bf16/cub", cub_fold<memloc::bfloat16>, a6);
  add("fold/A7_vit_mlp_token_major_bf16/roofline_read", roofline<memloc::bfloat16>, a6, false);
  add("fold/A7_vit_mlp_token_major_bf16/roofline_copy", roofline<memloc::bfloat16>, a6, true);
  add("fold/A7_vit_mlp_token_major_bf16/memloc", unitmem_update<memloc::bfloat16>, a6, true);
  add("fold/A8_latency_fp32/memloc", unitmem_update<float>, a8, false);
  for (const index_t classes : {index_t{10}, index_t{1000}}) {
    const std::string n = "fold/A9_classmem_" + std::to_string(classes) + "_classes_fp32/";
    add(n + "roofline_read", roofline<float>, a4, false);
    add(n + "memloc", classmem_update, a4, classes);
  }
  for (const index_t units : {index_t{64}, index_t{256}, index_t{512}, index_t{3072}}) {
    const std::string n = "stats/B_mean_N50000_U" + std::to_string(units) + "/";
    add(n + "roofline_read", roofline<float>, fold_case{50000, 1, units, 1}, false);
    add(n + "memloc", unitmem_from_mu, index_t{50000}, units, false, false);
  }
  add("stats/B_mean_N1281167_U512/roofline_read", roofline<float>, fold_case{1281167, 1, 512, 1}, false);
  add("stats/B_mean_N1281167_U512/memloc", unitmem_from_mu, index_t{1281167}, index_t{512}, false, false);
  add("stats/B_median_N50000_U512/roofline_read", roofline<float>, fold_case{50000, 1, 512, 1}, false);
  add("stats/B_median_N50000_U512/memloc", unitmem_from_mu, index_t{50000}, index_t{512}, true, false);
  // The median finalize on its own, at the B shape and at ImageNet scale (a 5.2 GB fp64
  // state, plus the 2.6 GB fp32 batch it was folded from).
  for (const index_t n : {index_t{50000}, index_t{1281167}}) {
    const std::string name = "stats/B_median_finalize_N" + std::to_string(n) + "_U512/";
    add(name + "roofline_read", roofline<double>, fold_case{n, 1, 512, 1}, false);
    add(name + "memloc", unitmem_from_mu, n, index_t{512}, true, true);
  }
  // per_sample updates: every id once in the batch, and each id's two views in two rows.
  for (const index_t repeats : {index_t{1}, index_t{2}}) {
    const std::string name = "fold/E_per_sample_rows8192_ids" + std::to_string(8192 / repeats) + "_U512_fp32/";
    add(name + "roofline_read", roofline<float>, fold_case{8192, 1, 512, 1}, false);
    add(name + "memloc", per_sample_update, index_t{8192}, 8192 / repeats, index_t{512});
  }
}

}  // namespace

int main(int argc, char** argv) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("memloc CUDA benchmarks: no usable CUDA device; nothing to measure\n");
    return std::getenv("MEMLOC_REQUIRE_GPU") ? 1 : 0;
  }
  register_all();
  register_alignment_cases();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
