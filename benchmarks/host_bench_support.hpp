#pragma once

// What the host benchmarks share: inputs that do not fit in the caches, filled in parallel
// with deterministic pseudo-random values; the in-run read roofline; benchmark names in the
// `group/case/implementation` form that benchmarks/report.py groups into table rows.

#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <memloc/memloc.hpp>

#include "bench_counters.hpp"

namespace memloc_bench {

using memloc::index_t;

// This VM's L3 reports 260 MB (shared with its neighbours): a case whose inputs total less
// could be served partly from it, so every case rotates among enough copies to exceed it.
inline constexpr std::size_t rotation_bytes = std::size_t{512} << 20;

// A value in [-1, 2) from the index alone, so buffers of any size fill in parallel and
// every run sees the same data.
inline float hashed_value(std::uint64_t i) noexcept {
  std::uint64_t h = i * 0x9E3779B97F4A7C15ull;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return -1.0f + 3.0f * static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
}

template <class T>
T from_float(float x) noexcept {
  if constexpr (std::is_same_v<T, memloc::bfloat16>) {
    return memloc::to_bfloat16(x);
  } else if constexpr (std::is_same_v<T, memloc::half>) {
    return memloc::to_half(x);
  } else {
    return static_cast<T>(x);
  }
}

template <class T>
std::vector<T> filled_buffer(std::size_t n, std::uint64_t seed) {
  std::vector<T> v(n);
  const auto count = static_cast<std::int64_t>(n);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < count; ++i) {
    v[static_cast<std::size_t>(i)] = from_float<T>(hashed_value(seed * 0x100000000ull + static_cast<std::uint64_t>(i)));
  }
  return v;
}

// One input of at least rotation_bytes / 2, or else at least four copies of it that together
// exceed rotation_bytes; next() hands the copies out in turn so no iteration reads what the
// previous one left in cache.
template <class T>
class rotating_inputs {
 public:
  explicit rotating_inputs(std::size_t elements) {
    const std::size_t bytes = std::max<std::size_t>(1, elements * sizeof(T));
    const std::size_t copies =
        bytes >= rotation_bytes / 2 ? 1 : std::max<std::size_t>(4, (rotation_bytes + bytes - 1) / bytes);
    for (std::size_t c = 0; c < copies; ++c) copies_.push_back(filled_buffer<T>(elements, c + 1));
  }
  const T* next() noexcept {
    const T* p = copies_[turn_].data();
    turn_ = (turn_ + 1) % copies_.size();
    return p;
  }
  const T* first() const noexcept { return copies_.front().data(); }
  std::size_t copies() const noexcept { return copies_.size(); }

 private:
  std::vector<std::vector<T>> copies_;
  std::size_t turn_ = 0;
};

// Sequential streams each thread reads at once in the roofline. memloc's fold reads one
// stream per view, and on this VM ten streams per thread drew about 1.3x the bandwidth of
// one: a single-stream sum is no ceiling for it.
inline constexpr std::int64_t roofline_streams = 8;

// What the machine delivers: every thread splits its share of the bytes into
// roofline_streams parts read side by side, into 16 independent float lanes, so neither a
// dependency chain, the thread count nor the prefetchers' stream count limits it.
inline double read_sum(const float* data, std::int64_t n) noexcept {
  double total = 0.0;
#pragma omp parallel reduction(+ : total)
  {
    const std::int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const std::int64_t begin = n * t / threads, end = n * (t + 1) / threads;
    const std::int64_t part = (end - begin) / roofline_streams;
    const float* base = data + begin;
    float lanes[16] = {};
    std::int64_t i = 0;
    for (; i + 16 <= part; i += 16) {
      for (std::int64_t s = 0; s < roofline_streams; ++s) {
        for (int l = 0; l < 16; ++l) lanes[l] += base[s * part + i + l];
      }
    }
    for (std::int64_t s = 0; s < roofline_streams; ++s) {
      for (std::int64_t j = i; j < part; ++j) lanes[0] += base[s * part + j];
    }
    for (std::int64_t j = begin + roofline_streams * part; j < end; ++j) lanes[0] += data[j];
    for (const float lane : lanes) total += static_cast<double>(lane);
  }
  return total;
}

// The roofline row of a case: the same number of bytes, read the same way (rotating).
inline void read_roofline(benchmark::State& state, std::int64_t bytes) {
  rotating_inputs<float> inputs(static_cast<std::size_t>(bytes / 4));
  for (auto _ : state) benchmark::DoNotOptimize(read_sum(inputs.next(), bytes / 4));
  set_throughput(state, bytes, bytes / 4);
}

template <class F, class... Args>
void add(const std::string& name, F&& f, Args&&... args) {
  benchmark::RegisterBenchmark(name.c_str(), std::forward<F>(f), std::forward<Args>(args)...)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

template <class T>
const char* dtype_name() {
  if constexpr (std::is_same_v<T, float>) return "fp32";
  if constexpr (std::is_same_v<T, memloc::bfloat16>) return "bf16";
  if constexpr (std::is_same_v<T, memloc::half>) return "fp16";
  return "fp64";
}

}  // namespace memloc_bench

namespace memloc_bench {

// Each suite registers its cases; host_main.cpp calls them all.
void register_fold_cases();
void register_column_stats_cases();
void register_distance_cases();

}  // namespace memloc_bench
