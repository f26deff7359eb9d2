// The host benchmark binary: every suite's cases, with the facts a table needs about the
// run recorded in the JSON context (threads, compiler). scripts/bench adds the commit and
// the CPU model with --benchmark_context.

#include <omp.h>

#include <string>

#include "host_bench_support.hpp"

int main(int argc, char** argv) {
  benchmark::AddCustomContext("omp_threads", std::to_string(omp_get_max_threads()));
#if defined(__clang__)
  benchmark::AddCustomContext("compiler", std::string("clang ") + __clang_version__);
#elif defined(__GNUC__)
  benchmark::AddCustomContext("compiler", std::string("g++ ") + __VERSION__);
#endif
  memloc_bench::register_fold_cases();
  memloc_bench::register_column_stats_cases();
  memloc_bench::register_distance_cases();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
