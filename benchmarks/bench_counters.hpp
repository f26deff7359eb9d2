#pragma once

// The one counter convention every memloc benchmark reports (host and CUDA), which
// benchmarks/report.py reads: bytes_per_second counts each input byte read once plus each
// output byte written once; items_per_second counts input elements; `bytes` is the byte
// count of one iteration, so a table can show the size of the case beside its speed.

#include <benchmark/benchmark.h>

#include <cstdint>

namespace memloc_bench {

inline void set_throughput(benchmark::State& state, std::int64_t bytes_per_iteration, std::int64_t items_per_iteration) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * bytes_per_iteration);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * items_per_iteration);
  state.counters["bytes"] = benchmark::Counter(static_cast<double>(bytes_per_iteration));
}

}  // namespace memloc_bench
