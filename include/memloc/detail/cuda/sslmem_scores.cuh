#pragma once

// SSLMem scores of one or more sets of samples (LayerMem's measurement points) on the
// device, into one scratch buffer, with the host's normalisations and degenerate-case policy.
// Problems (a negative alignment, a statistic that cannot normalise) are found by the
// kernels and raised after a single wait, first in the host's order of checks.

#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "../../options.hpp"
#include "../../view.hpp"
#include "../alignment_checks.hpp"
#include "memloc/kernels/sslmem.cuh"
#include "launch.cuh"
#include "runtime.cuh"

namespace memloc::detail::cuda {

class sslmem_scoring {
 public:
  sslmem_scoring(index_t sets, index_t samples, cudaStream_t stream, const char* function)
      : samples_(samples), scores_(sets * samples, function), statistics_(3 * sets, function), report_(1, function) {
    statistics_.zero(stream, function);
    report_.zero(stream, function);
    inputs_.reserve(static_cast<std::size_t>(sets));
  }

  // Enqueues the scores of the next set.
  template <class FView, class GView>
  void score(const FView& ssl_f, const GView& ssl_g, const sslmem_options& options, cudaStream_t stream,
             const char* function) {
    const auto set = static_cast<index_t>(inputs_.size());
    const kernels::ssl_pair in{device_view_of(ssl_f), device_view_of(ssl_g)};
    inputs_.push_back(in);
    if (samples_ == 0) return;
    double* scores = scores_.data() + set * samples_;
    kernels::set_statistics* stats = statistics_.data() + 3 * set;
    const unsigned blocks = kernels::grid_for(samples_);
    launch(function, "the SSLMem score kernel", kernels::sslmem_first_pass<>, blocks, kernels::block_threads, 0, stream,
           in, samples_, set, options.normalization, options.clamp01, scores, stats, report_.data());
    if (options.normalization == sslmem_normalization::max) {
      launch(function, "the SSLMem scaling kernel", kernels::sslmem_scaled_differences<>, blocks,
             kernels::block_threads, 0, stream, in, samples_, scores, stats, report_.data());
    }
    if (options.normalization == sslmem_normalization::range || options.normalization == sslmem_normalization::max) {
      const bool by_range = options.normalization == sslmem_normalization::range;
      launch(function, "the SSLMem normalisation kernel", kernels::sslmem_divide_scores<>, blocks,
             kernels::block_threads, 0, stream, samples_, stats + (by_range ? 0 : 2), by_range, options.clamp01, scores,
             report_.data());
    }
  }

  const double* scores(index_t set) const noexcept { return scores_.data() + set * samples_; }
  const kernels::sslmem_report* report() const noexcept { return report_.data(); }

  // Waits for the stream, then raises the first problem of any set: negative alignments
  // first (the host checks every point's values before it scores any), then the statistics
  // of each set in order.
  void raise_problems(const sslmem_options& options, cudaStream_t stream, const char* function) const {
    kernels::sslmem_report report{};
    copy_to_host(&report, report_.data(), sizeof report, stream, function);
    if (report.failed == 0) return;
    if (report.first_negative != 0) raise_negative(~report.first_negative, stream, function);
    std::vector<kernels::set_statistics> stats(static_cast<std::size_t>(statistics_.size()));
    copy_to_host(stats.data(), statistics_.data(), statistics_.bytes(), stream, function);
    for (std::size_t set = 0; set < inputs_.size(); ++set) {
      const kernels::set_statistics* s = stats.data() + 3 * set;
      if (options.normalization == sslmem_normalization::range) {
        check_statistic(function, range_statistic, s[0], kernels::maximum_of(s[0]) - kernels::minimum_of(s[0]));
      } else if (options.normalization == sslmem_normalization::max) {
        check_statistic(function, max_f_statistic, s[0], kernels::maximum_of(s[0]));
        check_statistic(function, max_g_statistic, s[1], kernels::maximum_of(s[1]));
        check_statistic(function, max_difference_statistic, s[2], kernels::maximum_of(s[2]));
      }
    }
  }

 private:
  static void check_statistic(const char* function, const char* what, const kernels::set_statistics& s, double value) {
    check_set_statistic(function, what, kernels::division_of(s, value), value);
  }

  // key = 2 * (set * samples + i) + (0 for ssl_f, 1 for ssl_g); the value is read back for
  // the message.
  [[noreturn]] void raise_negative(unsigned long long key, cudaStream_t stream, const char* function) const {
    const int argument = static_cast<int>(key % 2);
    const auto flat = static_cast<index_t>(key / 2);
    const kernels::ssl_pair& in = inputs_[static_cast<std::size_t>(flat / samples_)];
    const index_t i = flat % samples_;
    const auto& alignments = argument == 0 ? in.f : in.g;
    const double* where = alignments.data_handle() + i * alignments.stride(0);
    double value = 0.0;
    copy_to_host(&value, where, sizeof value, stream, function);
    status_record record{};
    record.problem = static_cast<int>(input_problem::negative_distance);
    record.position = i;
    std::memcpy(&record.value, &value, sizeof value);
    record.argument = argument;
    throw logic_error(concat(function, ": ", describe(record, function)));
  }

  index_t samples_;
  device_array<double> scores_;
  device_array<kernels::set_statistics> statistics_;
  device_array<kernels::sslmem_report> report_;
  std::vector<kernels::ssl_pair> inputs_;
};

// out(i) = the score of sample i, written only if no problem was found.
template <class F, class G, class Out>
void sslmem(cudaStream_t stream, const F& ssl_f, const G& ssl_g, const Out& out, const sslmem_options& options,
            const char* function) {
  const index_t n = ssl_f.extent(0);
  if (n == 0) return;
  sslmem_scoring scoring(1, n, stream, function);
  scoring.score(ssl_f, ssl_g, options, stream, function);
  launch(function, "the output kernel", kernels::store_scores<>, kernels::grid_for(n), kernels::block_threads, 0,
         stream, scoring.scores(0), n, out.data_handle(), out.stride(0), scoring.report());
  scoring.raise_problems(options, stream, function);
}

}  // namespace memloc::detail::cuda
