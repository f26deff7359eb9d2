// memloc's rule for streams, enforced by the emulation: an accumulator's calls must be ordered
// (one stream, or an event between streams), because its state and scratch are reused by
// every call. Two streams used without ordering are reported, naming both operations; with an
// event in between the same calls run and give the one-stream result. Emulated build only:
// the report comes from the emulated runtime's happens-before tracking.

#include <doctest/doctest.h>

#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include <memloc/memloc.cuh>

#include "cuda/cuda_support.cuh"
#include "emulation/report_capture.hpp"

namespace {

using memloc::index_t;

struct two_streams {
  cudaStream_t first = nullptr, second = nullptr;
  two_streams() {
    testing::cuda_require(cudaStreamCreateWithFlags(&first, cudaStreamNonBlocking), "cudaStreamCreate");
    testing::cuda_require(cudaStreamCreateWithFlags(&second, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  two_streams(const two_streams&) = delete;
  two_streams& operator=(const two_streams&) = delete;
  ~two_streams() {
    cudaStreamDestroy(first);
    cudaStreamDestroy(second);
  }
};

constexpr index_t samples = 8, views = 2, units = 5, positions = 3;

// Two batches of four samples each, on the device.
struct batches {
  testing::device_buffer<float> acts = testing::device_allocate<float>(samples * views * units * positions);
  testing::device_buffer<std::int64_t> ids = testing::device_allocate<std::int64_t>(samples);
  batches() {
    std::vector<float> host(static_cast<std::size_t>(samples * views * units * positions));
    for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>((i * 37) % 11) - 3.0f;
    std::vector<std::int64_t> host_ids(static_cast<std::size_t>(samples));
    for (std::size_t i = 0; i < host_ids.size(); ++i) host_ids[i] = static_cast<std::int64_t>(i);
    testing::upload(acts.data, host.data(), host.size() * sizeof(float));
    testing::upload(ids.data, host_ids.data(), host_ids.size() * sizeof(std::int64_t));
  }
  auto half(index_t which) const {
    return memloc::nchw_sample_major<memloc::device_space>(acts.data + which * (samples / 2) * views * units * positions,
                                                            samples / 2, views, units, 1, positions);
  }
  auto half_ids(index_t which) const {
    return memloc::vector_view<const std::int64_t, memloc::device_space>(ids.data + which * (samples / 2), {samples / 2});
  }
};

std::vector<double> finalize(const memloc::unitmem_accumulator<memloc::device_space>& acc, cudaStream_t stream) {
  auto out = testing::device_allocate<double>(units);
  acc.finalize(memloc::cuda_exec{stream}, {out.view(), {}, {}});
  std::vector<double> host(static_cast<std::size_t>(units));
  testing::cuda_require(cudaMemcpy(host.data(), out.data, units * sizeof(double), cudaMemcpyDeviceToHost), "cudaMemcpy");
  return host;
}

}  // namespace

TEST_CASE("stream rule: one accumulator updated from two streams without ordering is reported") {
  const two_streams streams;
  const batches data;
  memloc::unitmem_accumulator acc(memloc::cuda_exec{streams.first}, memloc::unitmem_shape{samples, units, views, positions});
  cudaStreamSynchronize(streams.first);  // construction zeroes the state on the first stream
  const std::string report = memloc_emulation::testing::report_of([&] {
    acc.update(memloc::cuda_exec{streams.first}, data.half(0), data.half_ids(0));
    acc.update(memloc::cuda_exec{streams.second}, data.half(1), data.half_ids(1));
  });
  cudaDeviceSynchronize();
  CHECK(memloc_emulation::testing::contains(report, "two streams without ordering"));
  CHECK(memloc_emulation::testing::contains(report, "memloc::kernels::"));
}

TEST_CASE("stream rule: an event between the streams orders the calls and gives the one-stream result") {
  const two_streams streams;
  const batches data;
  const memloc::unitmem_shape shape{samples, units, views, positions};
  memloc::unitmem_accumulator one(memloc::cuda_exec{streams.first}, shape);
  one.update(memloc::cuda_exec{streams.first}, data.half(0), data.half_ids(0));
  one.update(memloc::cuda_exec{streams.first}, data.half(1), data.half_ids(1));
  const auto expected = finalize(one, streams.first);

  memloc::unitmem_accumulator acc(memloc::cuda_exec{streams.first}, shape);
  acc.update(memloc::cuda_exec{streams.first}, data.half(0), data.half_ids(0));
  cudaEvent_t done = nullptr;
  testing::cuda_require(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), "cudaEventCreate");
  testing::cuda_require(cudaEventRecord(done, streams.first), "cudaEventRecord");
  testing::cuda_require(cudaStreamWaitEvent(streams.second, done, 0), "cudaStreamWaitEvent");
  acc.update(memloc::cuda_exec{streams.second}, data.half(1), data.half_ids(1));
  testing::cuda_require(cudaEventRecord(done, streams.second), "cudaEventRecord");
  testing::cuda_require(cudaStreamWaitEvent(streams.first, done, 0), "cudaStreamWaitEvent");
  CHECK(finalize(acc, streams.first) == expected);
  cudaEventDestroy(done);
}
