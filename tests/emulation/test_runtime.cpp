// The runtime half's checks, each seen to fire: work queued by enqueue_kernel (exactly what
// a launch queues) stands in for kernels, so no kernel is needed.

#include <doctest/doctest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <cub/device/device_radix_sort.cuh>

#include "memloc_emulation/interface.hpp"
#include "report_capture.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define MEMLOC_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMLOC_TEST_ASAN 1
#endif
#endif

namespace emu = memloc_emulation;

namespace {

using memloc_emulation::testing::contains;
using memloc_emulation::testing::report_of;

struct child_result {
  bool died = false;  // killed by a signal or exited non-zero
  std::string errors;
};

// Runs `action` in a fork()ed child whose stderr comes back through a pipe: a check that
// aborts the process is observed from outside it.
template <class Action>
child_result in_child(Action action) {
  int channel[2];
  REQUIRE(pipe(channel) == 0);
  std::fflush(nullptr);  // or the child would print the parent's buffered output again
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(channel[0]);
    dup2(channel[1], STDERR_FILENO);
    // The child's abort is the expected outcome: doctest must neither catch nor narrate it.
    std::signal(SIGABRT, SIG_DFL);
    if (std::FILE* quiet = std::freopen("/dev/null", "w", stdout); !quiet) _exit(3);
    emu::set_failure_handler(nullptr);  // the default: print the report and abort
    action();
    _exit(0);
  }
  close(channel[1]);
  child_result result;
  char buffer[4096];
  for (ssize_t got; (got = read(channel[0], buffer, sizeof buffer)) > 0;) result.errors.append(buffer, std::size_t(got));
  close(channel[0]);
  int status = 0;
  waitpid(child, &status, 0);
  result.died = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
  return result;
}

// The child died, saying what ASan says under ASan and what the emulation says otherwise.
void check_died_saying(const child_result& child, const char* asan_says, std::initializer_list<const char*> emulation_says) {
  INFO(child.errors);
  CHECK(child.died);
#if defined(MEMLOC_TEST_ASAN)
  CHECK(contains(child.errors, asan_says));
  static_cast<void>(emulation_says);
#else
  static_cast<void>(asan_says);
  for (const char* part : emulation_says) CHECK(contains(child.errors, part));
#endif
}

void launch(cudaStream_t stream, const char* kernel, std::vector<emu::region> regions, std::function<void()> body) {
  emu::launch_description description;
  description.kernel = kernel;
  description.regions = std::move(regions);
  // Not REQUIRE: doctest would catch the exception a fired check throws in report_of.
  if (emu::enqueue_kernel(stream, std::move(description), std::move(body)) != cudaSuccess) FAIL("enqueue_kernel failed");
}

template <class T>
T* device_array(std::size_t n) {
  void* memory = nullptr;
  REQUIRE(cudaMalloc(&memory, n * sizeof(T)) == cudaSuccess);
  return static_cast<T*>(memory);
}

}  // namespace

TEST_CASE("emulated runtime: host code cannot read or write device memory") {
  for (const bool write : {false, true}) {
    const child_result child = in_child([write] {
      int* data = device_array<int>(16);
      volatile int* host_view = data + 2;
      if (write) {
        *host_view = 1;
      } else {
        [[maybe_unused]] const int value = *host_view;
      }
    });
    check_died_saying(child, "use-after-poison",
                      {"host code read or wrote device memory", "(byte 8 of an 64-byte cudaMalloc allocation"});
  }
}

TEST_CASE("emulated runtime: faults elsewhere are not blamed on device memory") {
  const child_result child = in_child([] {
    [[maybe_unused]] int* data = device_array<int>(4);
    void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(page != MAP_FAILED);
    *static_cast<volatile int*>(page) = 1;
  });
  CHECK(child.died);
  CHECK_FALSE(contains(child.errors, "device memory"));
}

TEST_CASE("emulated runtime: a store past an allocation's end faults while the kernel runs") {
  const child_result child = in_child([] {
    unsigned char* data = device_array<unsigned char>(100);
#if defined(MEMLOC_TEST_ASAN)
    const std::size_t past = 100;  // ASan's redzone starts at the first byte not asked for
#else
    const std::size_t past = 256;  // the guard page starts after CUDA's 256-byte rounding
#endif
    launch(0, "planted_overrun", {{data, 100, true}}, [data, past] { data[past] = 1; });
    cudaDeviceSynchronize();
  });
  check_died_saying(child, "heap-buffer-overflow",
                    {"out-of-bounds device access", "156 bytes past the end of an 100-byte cudaMalloc allocation",
                     "during kernel planted_overrun"});
}

TEST_CASE("emulated runtime: a kernel using freed device memory faults") {
  const child_result child = in_child([] {
    int* data = device_array<int>(8);
    REQUIRE(cudaFree(data) == cudaSuccess);
    launch(0, "stale_user", {}, [data] { data[1] = 1; });
    cudaDeviceSynchronize();
  });
  check_died_saying(child, "heap-use-after-free",
                    {"use of device memory after cudaFree", "(byte 4 of a freed 32-byte allocation",
                     "during kernel stale_user"});
}

TEST_CASE("emulated runtime: queued work runs at synchronization points, not at enqueue") {
  bool ran = false;
  launch(0, "flag", {}, [&ran] { ran = true; });
  CHECK_FALSE(ran);
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  CHECK(ran);
}

TEST_CASE("emulated runtime: cudaDeviceSynchronize interleaves independent streams in varying orders") {
  cudaStream_t first, second;
  REQUIRE(cudaStreamCreateWithFlags(&first, cudaStreamNonBlocking) == cudaSuccess);
  REQUIRE(cudaStreamCreateWithFlags(&second, cudaStreamNonBlocking) == cudaSuccess);
  bool first_went_first = false, second_went_first = false;
  for (int round = 0; round < 32; ++round) {
    std::vector<int> order;
    launch(first, "one", {}, [&order] { order.push_back(1); });
    launch(second, "two", {}, [&order] { order.push_back(2); });
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    REQUIRE(order.size() == 2);
    (order[0] == 1 ? first_went_first : second_went_first) = true;
  }
  CHECK(first_went_first);
  CHECK(second_went_first);
  CHECK(cudaStreamDestroy(first) == cudaSuccess);
  CHECK(cudaStreamDestroy(second) == cudaSuccess);
}

TEST_CASE("emulated runtime: an asynchronous copy into pinned memory is stale until the stream is synchronized") {
  cudaStream_t stream;
  REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
  int* device = device_array<int>(4);
  int* pinned = nullptr;
  REQUIRE(cudaMallocHost(reinterpret_cast<void**>(&pinned), 4 * sizeof(int)) == cudaSuccess);
  std::fill(pinned, pinned + 4, -1);
  launch(stream, "fill", {{device, 4 * sizeof(int), true}}, [device] { std::iota(device, device + 4, 10); });
  REQUIRE(cudaMemcpyAsync(pinned, device, 4 * sizeof(int), cudaMemcpyDeviceToHost, stream) == cudaSuccess);
  CHECK(pinned[0] == -1);  // what a host that forgot cudaStreamSynchronize would read
  REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);
  CHECK(pinned[0] == 10);
  CHECK(pinned[3] == 13);
  CHECK(cudaFreeHost(pinned) == cudaSuccess);
  CHECK(cudaFree(device) == cudaSuccess);
  CHECK(cudaStreamDestroy(stream) == cudaSuccess);
}

TEST_CASE("emulated runtime: pageable sources are staged at the call, pageable destinations filled before return") {
  cudaStream_t stream;
  REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
  int* device = device_array<int>(3);
  std::vector<int> source{1, 2, 3};
  REQUIRE(cudaMemcpyAsync(device, source.data(), 3 * sizeof(int), cudaMemcpyHostToDevice, stream) == cudaSuccess);
  std::fill(source.begin(), source.end(), 0);  // allowed: the driver has staged the bytes
  std::vector<int> back(3, -1);
  REQUIRE(cudaMemcpyAsync(back.data(), device, 3 * sizeof(int), cudaMemcpyDefault, stream) == cudaSuccess);
  CHECK(back == std::vector<int>{1, 2, 3});  // no synchronization needed for pageable memory
  CHECK(cudaFree(device) == cudaSuccess);
  CHECK(cudaStreamDestroy(stream) == cudaSuccess);
}

TEST_CASE("emulated runtime: two streams on one allocation need an event or a synchronization") {
  cudaStream_t first, second;
  REQUIRE(cudaStreamCreate(&first) == cudaSuccess);
  REQUIRE(cudaStreamCreate(&second) == cudaSuccess);
  double* accumulator = device_array<double>(8);
  double* total = device_array<double>(1);
  const std::size_t bytes = 8 * sizeof(double);
  launch(first, "accumulate", {{accumulator, bytes, true}}, [accumulator] { std::fill(accumulator, accumulator + 8, 0.5); });
  auto reduce = [&](cudaStream_t stream) {
    launch(stream, "reduce", {{accumulator, bytes, false}, {total, sizeof(double), true}},
           [accumulator, total] { *total = std::accumulate(accumulator, accumulator + 8, 0.0); });
  };

  SUBCASE("unordered: reported, naming both streams, both kernels and the allocation") {
    const std::string report = report_of([&] { reduce(second); });
    INFO(report);
    CHECK(contains(report, "without ordering"));
    CHECK(contains(report, "kernel reduce"));
    CHECK(contains(report, "kernel accumulate"));
    CHECK(contains(report, "stream #"));
    CHECK(contains(report, "64-byte device allocation"));
  }
  SUBCASE("ordered by an event: not reported, and the reduction sees the accumulation") {
    cudaEvent_t accumulated;
    REQUIRE(cudaEventCreateWithFlags(&accumulated, cudaEventDisableTiming) == cudaSuccess);
    REQUIRE(cudaEventRecord(accumulated, first) == cudaSuccess);
    REQUIRE(cudaStreamWaitEvent(second, accumulated, 0) == cudaSuccess);
    CHECK(report_of([&] { reduce(second); }).empty());
    double result = 0;
    REQUIRE(cudaMemcpyAsync(&result, total, sizeof(double), cudaMemcpyDeviceToHost, second) == cudaSuccess);
    CHECK(result == 4.0);  // syncing `second` alone ran `first` up to the event
    CHECK(cudaEventDestroy(accumulated) == cudaSuccess);
  }
  SUBCASE("ordered by a host synchronization: not reported") {
    REQUIRE(cudaStreamSynchronize(first) == cudaSuccess);
    CHECK(report_of([&] { reduce(second); }).empty());
  }
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  CHECK(cudaFree(accumulator) == cudaSuccess);
  CHECK(cudaFree(total) == cudaSuccess);
  CHECK(cudaStreamDestroy(first) == cudaSuccess);
  CHECK(cudaStreamDestroy(second) == cudaSuccess);
}

TEST_CASE("emulated runtime: synchronizing a stream runs only what it depends on") {
  cudaStream_t producer, consumer;
  REQUIRE(cudaStreamCreateWithFlags(&producer, cudaStreamNonBlocking) == cudaSuccess);
  REQUIRE(cudaStreamCreateWithFlags(&consumer, cudaStreamNonBlocking) == cudaSuccess);
  int* data = device_array<int>(1);
  int* seen = device_array<int>(1);
  REQUIRE(cudaMemset(data, 0, sizeof(int)) == cudaSuccess);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  // No regions: the arguments are hidden from the ordering check, as a pointer inside a
  // struct might be, so only the execution order can show the missing dependency.
  launch(producer, "produce", {}, [data] { *data = 5; });
  launch(consumer, "consume", {}, [data, seen] { *seen = *data; });
  int result = -1;
  REQUIRE(cudaMemcpyAsync(&result, seen, sizeof(int), cudaMemcpyDeviceToHost, consumer) == cudaSuccess);
  CHECK(result == 0);  // the producer has not run: nothing made the consumer wait for it
  REQUIRE(cudaStreamSynchronize(producer) == cudaSuccess);
  REQUIRE(cudaMemcpy(&result, data, sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(result == 5);
  CHECK(cudaFree(data) == cudaSuccess);
  CHECK(cudaFree(seen) == cudaSuccess);
  CHECK(cudaStreamDestroy(producer) == cudaSuccess);
  CHECK(cudaStreamDestroy(consumer) == cudaSuccess);
}

TEST_CASE("emulated runtime: a blocking cudaMemcpy from pageable memory may leave the device write queued") {
  cudaStream_t stream;
  REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess);
  int* data = device_array<int>(1);
  const int value = 9;
  REQUIRE(cudaMemcpy(data, &value, sizeof(int), cudaMemcpyHostToDevice) == cudaSuccess);
  // "The DMA to final destination may not have completed": a non-blocking stream that
  // reads it without synchronizing races with the copy.
  const std::string report = report_of([&] { launch(stream, "reader", {{data, sizeof(int), false}}, [] {}); });
  CHECK(contains(report, "cudaMemcpy of 4 bytes from pageable host to device memory"));
  CHECK(contains(report, "the legacy default stream"));
  CHECK(cudaFree(data) == cudaSuccess);
  CHECK(cudaStreamDestroy(stream) == cudaSuccess);
}

TEST_CASE("emulated runtime: random chains of event-ordered work across streams run in order, unreported") {
  for (std::uint64_t program = 0; program < 20; ++program) {
    CAPTURE(program);
    std::mt19937_64 random(program);
    std::vector<cudaStream_t> streams(3);
    for (auto& stream : streams) REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess);
    streams.push_back(0);  // the legacy stream: ordered by events as well as implicitly
    std::vector<cudaEvent_t> events(64);
    for (auto& event : events) REQUIRE(cudaEventCreateWithFlags(&event, cudaEventDisableTiming) == cudaSuccess);
    std::uint64_t* cell = device_array<std::uint64_t>(1);
    REQUIRE(cudaMemset(cell, 0, sizeof(std::uint64_t)) == cudaSuccess);
    std::uint64_t expected = 0;
    cudaStream_t last = 0;
    std::string reports;
    for (std::uint64_t step = 0; step < 64; ++step) {
      const cudaStream_t stream = streams[random() % streams.size()];
      if (stream != last) {
        REQUIRE(cudaEventRecord(events[step], last) == cudaSuccess);
        REQUIRE(cudaStreamWaitEvent(stream, events[step], 0) == cudaSuccess);
      }
      reports += report_of([&] {
        launch(stream, "step", {{cell, sizeof(std::uint64_t), true}}, [cell, step] { *cell = *cell * 31 + step; });
      });
      expected = expected * 31 + step;
      last = stream;
      if (random() % 16 == 0) REQUIRE(cudaStreamSynchronize(streams[random() % streams.size()]) == cudaSuccess);
    }
    std::uint64_t result = 0;
    REQUIRE(cudaMemcpyAsync(&result, cell, sizeof result, cudaMemcpyDeviceToHost, last) == cudaSuccess);
    CHECK(reports.empty());
    CHECK(result == expected);
    CHECK(cudaFree(cell) == cudaSuccess);
    for (auto& event : events) CHECK(cudaEventDestroy(event) == cudaSuccess);
    for (std::size_t i = 0; i + 1 < streams.size(); ++i) CHECK(cudaStreamDestroy(streams[i]) == cudaSuccess);
  }
}

TEST_CASE("emulated runtime: the legacy default stream orders blocking streams, not non-blocking ones") {
  for (const unsigned flags : {unsigned(cudaStreamDefault), unsigned(cudaStreamNonBlocking)}) {
    CAPTURE(flags);
    cudaStream_t stream;
    REQUIRE(cudaStreamCreateWithFlags(&stream, flags) == cudaSuccess);
    int* data = device_array<int>(1);
    int* copy = device_array<int>(1);
    launch(stream, "produce", {{data, sizeof(int), true}}, [data] { *data = 7; });
    const std::string report = report_of([&] {
      launch(0, "consume", {{data, sizeof(int), false}, {copy, sizeof(int), true}}, [data, copy] { *copy = *data; });
    });
    if (flags == cudaStreamNonBlocking) {
      CHECK(contains(report, "the legacy default stream"));
    } else {
      CHECK(report.empty());
      int result = 0;
      REQUIRE(cudaMemcpy(&result, copy, sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess);
      CHECK(result == 7);  // the legacy stream waited for `stream`'s kernel
    }
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    CHECK(cudaFree(data) == cudaSuccess);
    CHECK(cudaFree(copy) == cudaSuccess);
    CHECK(cudaStreamDestroy(stream) == cudaSuccess);
  }
}

TEST_CASE("emulated runtime: cudaFree runs the queued work that still needs the memory") {
  cudaStream_t stream;
  REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess);
  int* data = device_array<int>(4);
  bool ran = false;
  launch(stream, "late_user", {{data, 4 * sizeof(int), true}}, [data, &ran] {
    data[3] = 1;
    ran = true;
  });
  CHECK(cudaFree(data) == cudaSuccess);
  CHECK(ran);
  CHECK(cudaStreamDestroy(stream) == cudaSuccess);
}

TEST_CASE("emulated runtime: cudaFreeAsync on one stream of memory another stream still uses is reported") {
  cudaStream_t first, second;
  REQUIRE(cudaStreamCreate(&first) == cudaSuccess);
  REQUIRE(cudaStreamCreate(&second) == cudaSuccess);
  int* data = device_array<int>(4);
  launch(first, "user", {{data, 4 * sizeof(int), false}}, [] {});
  CHECK(contains(report_of([&] { cudaFreeAsync(data, second); }), "cudaFreeAsync"));
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  CHECK(cudaFreeAsync(data, first) == cudaSuccess);
  CHECK(cudaStreamSynchronize(first) == cudaSuccess);
  CHECK(cudaStreamDestroy(first) == cudaSuccess);
  CHECK(cudaStreamDestroy(second) == cudaSuccess);
}

TEST_CASE("emulated runtime: stream-ordered allocations belong to their stream until ordered otherwise") {
  cudaStream_t owner, other;
  REQUIRE(cudaStreamCreateWithFlags(&owner, cudaStreamNonBlocking) == cudaSuccess);
  REQUIRE(cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking) == cudaSuccess);
  void* data = nullptr;
  REQUIRE(cudaMallocAsync(&data, 64, owner) == cudaSuccess);
  const std::string report = report_of([&] { launch(other, "early_user", {{data, 64, true}}, [] {}); });
  CHECK(contains(report, "cudaMallocAsync of 64 bytes"));
  CHECK(contains(report, "kernel early_user"));
  cudaEvent_t allocated;
  REQUIRE(cudaEventCreate(&allocated) == cudaSuccess);
  REQUIRE(cudaEventRecord(allocated, owner) == cudaSuccess);
  REQUIRE(cudaStreamWaitEvent(other, allocated, 0) == cudaSuccess);
  CHECK(report_of([&] { launch(other, "ordered_user", {{data, 64, true}}, [] {}); }).empty());
  CHECK(cudaFreeAsync(data, other) == cudaSuccess);
  CHECK(cudaStreamSynchronize(other) == cudaSuccess);
  CHECK(cudaEventDestroy(allocated) == cudaSuccess);
  CHECK(cudaStreamDestroy(owner) == cudaSuccess);
  CHECK(cudaStreamDestroy(other) == cudaSuccess);
}

TEST_CASE("emulated runtime: the per-thread default stream is a blocking stream") {
  int* data = device_array<int>(1);
  launch(cudaStreamPerThread, "produce", {{data, sizeof(int), true}}, [data] { *data = 3; });
  int result = 0;
  cudaError_t status = cudaErrorUnknown;
  CHECK(report_of([&] { status = cudaMemcpy(&result, data, sizeof(int), cudaMemcpyDeviceToHost); }).empty());
  CHECK(status == cudaSuccess);
  CHECK(result == 3);
  CHECK(cudaFree(data) == cudaSuccess);
}

TEST_CASE("emulated runtime: copies check their direction and bounds as CUDA does") {
  int* device = device_array<int>(4);
  std::vector<int> host(8, 0);
  CHECK(cudaMemcpy(device, host.data(), 4 * sizeof(int), cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(host.data(), device, 4 * sizeof(int), cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(device, host.data(), 8 * sizeof(int), cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(device, host.data(), 4 * sizeof(int), static_cast<cudaMemcpyKind>(9)) ==
        cudaErrorInvalidMemcpyDirection);
  CHECK(cudaMemset(host.data(), 0, sizeof(int)) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  REQUIRE(cudaMemset(device, 0, 4 * sizeof(int)) == cudaSuccess);
  REQUIRE(cudaMemcpy(host.data(), device, 4 * sizeof(int), cudaMemcpyDefault) == cudaSuccess);
  CHECK(host[0] == 0);
  cudaPointerAttributes attributes;
  REQUIRE(cudaPointerGetAttributes(&attributes, device + 1) == cudaSuccess);
  CHECK(attributes.type == cudaMemoryTypeDevice);
  REQUIRE(cudaPointerGetAttributes(&attributes, host.data()) == cudaSuccess);
  CHECK(attributes.type == cudaMemoryTypeUnregistered);
  CHECK(cudaFree(device) == cudaSuccess);
  CHECK(cudaFree(device) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
}

TEST_CASE("emulated runtime: errors, their names and the last-error rules") {
  CHECK(std::string(cudaGetErrorName(cudaErrorInvalidValue)) == "cudaErrorInvalidValue");
  CHECK(std::string(cudaGetErrorString(cudaErrorInvalidValue)) == "invalid argument");
  CHECK(std::string(cudaGetErrorString(cudaSuccess)) == "no error");
  CHECK(std::string(cudaGetErrorName(static_cast<cudaError_t>(12345))) == "unrecognized error code");
  CHECK(cudaGetLastError() == cudaSuccess);
  CHECK(cudaSetDevice(3) == cudaErrorInvalidDevice);
  CHECK(cudaPeekAtLastError() == cudaErrorInvalidDevice);  // peeking keeps it
  CHECK(cudaPeekAtLastError() == cudaErrorInvalidDevice);
  CHECK(cudaSetDevice(0) == cudaSuccess);  // a later success does not clear it
  CHECK(cudaGetLastError() == cudaErrorInvalidDevice);
  CHECK(cudaGetLastError() == cudaSuccess);  // getting resets it
  emu::set_last_error(cudaErrorInvalidConfiguration);
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
}

TEST_CASE("emulated runtime: the device looks like an sm_90 part") {
  int count = 0;
  CHECK(cudaGetDeviceCount(&count) == cudaSuccess);
  CHECK(count == 1);
  cudaDeviceProp prop;
  REQUIRE(cudaGetDeviceProperties(&prop, 0) == cudaSuccess);
  CHECK(std::string(prop.name) == "memloc emulated device (CPU)");
  CHECK(prop.major == 9);
  CHECK(prop.warpSize == 32);
  int value = 0;
  REQUIRE(cudaDeviceGetAttribute(&value, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0) == cudaSuccess);
  CHECK(value == 227 * 1024);
  REQUIRE(cudaDeviceGetAttribute(&value, cudaDevAttrMaxGridDimX, 0) == cudaSuccess);
  CHECK(value == 2147483647);
}

TEST_CASE("emulated runtime: events complete in stream order and time it") {
  cudaStream_t stream;
  REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
  cudaEvent_t start, stop;
  REQUIRE(cudaEventCreate(&start) == cudaSuccess);
  REQUIRE(cudaEventCreate(&stop) == cudaSuccess);
  REQUIRE(cudaEventRecord(start, stream) == cudaSuccess);
  launch(stream, "work", {}, [] {});
  REQUIRE(cudaEventRecord(stop, stream) == cudaSuccess);
  float ms = -1;
  CHECK(cudaEventElapsedTime(&ms, start, stop) == cudaErrorNotReady);
  CHECK(cudaStreamQuery(stream) == cudaErrorNotReady);
  CHECK(cudaStreamQuery(stream) == cudaSuccess);  // a GPU gets there on its own
  REQUIRE(cudaEventSynchronize(stop) == cudaSuccess);
  CHECK(cudaEventQuery(stop) == cudaSuccess);
  CHECK(cudaEventElapsedTime(&ms, start, stop) == cudaSuccess);
  CHECK(ms >= 0);
  CHECK(cudaEventDestroy(start) == cudaSuccess);
  CHECK(cudaEventDestroy(stop) == cudaSuccess);
  CHECK(cudaEventDestroy(stop) == cudaErrorInvalidResourceHandle);
  CHECK(cudaStreamDestroy(stream) == cudaSuccess);
  CHECK(cudaGetLastError() == cudaErrorInvalidResourceHandle);
}

namespace {

template <class Key, class Value>
struct sort_buffers {
  Key* keys_in;
  Key* keys_out;
  Value* values_in;
  Value* values_out;
  explicit sort_buffers(const std::vector<Key>& keys)
      : keys_in(device_array<Key>(keys.size())),
        keys_out(device_array<Key>(keys.size())),
        values_in(device_array<Value>(keys.size())),
        values_out(device_array<Value>(keys.size())) {
    std::vector<Value> values(keys.size());
    std::iota(values.begin(), values.end(), Value{0});
    REQUIRE(cudaMemcpy(keys_in, keys.data(), keys.size() * sizeof(Key), cudaMemcpyHostToDevice) == cudaSuccess);
    REQUIRE(cudaMemcpy(values_in, values.data(), values.size() * sizeof(Value), cudaMemcpyHostToDevice) ==
            cudaSuccess);
  }
  ~sort_buffers() {
    cudaFree(keys_in);
    cudaFree(keys_out);
    cudaFree(values_in);
    cudaFree(values_out);
  }
  sort_buffers(const sort_buffers&) = delete;
  sort_buffers& operator=(const sort_buffers&) = delete;
};

}  // namespace

TEST_CASE("emulated CUB: SortPairs is a stable sort of the bits in [begin_bit, end_bit)") {
  std::mt19937_64 random(42);
  std::vector<std::uint64_t> keys(1000);
  for (auto& key : keys) key = random() % 64 * 0x10001;  // duplicates, bits in and out of range
  const int begin_bit = 4, end_bit = 20;
  sort_buffers<std::uint64_t, std::int64_t> buffers(keys);
  cudaStream_t stream;
  REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
  std::size_t bytes = 0;
  REQUIRE(cub::DeviceRadixSort::SortPairs(nullptr, bytes, buffers.keys_in, buffers.keys_out, buffers.values_in,
                                          buffers.values_out, keys.size(), begin_bit, end_bit, stream) == cudaSuccess);
  REQUIRE(bytes > 0);
  void* temporary = nullptr;
  REQUIRE(cudaMalloc(&temporary, bytes) == cudaSuccess);
  REQUIRE(cub::DeviceRadixSort::SortPairs(temporary, bytes, buffers.keys_in, buffers.keys_out, buffers.values_in,
                                          buffers.values_out, keys.size(), begin_bit, end_bit, stream) == cudaSuccess);
  std::vector<std::int64_t> expected(keys.size());
  std::iota(expected.begin(), expected.end(), 0);
  const auto field = [&](std::int64_t i) { return (keys[std::size_t(i)] >> begin_bit) & ((1u << (end_bit - begin_bit)) - 1); };
  std::stable_sort(expected.begin(), expected.end(), [&](std::int64_t a, std::int64_t b) { return field(a) < field(b); });
  std::vector<std::int64_t> order(keys.size());
  std::vector<std::uint64_t> sorted(keys.size());
  REQUIRE(cudaMemcpyAsync(order.data(), buffers.values_out, order.size() * sizeof(std::int64_t), cudaMemcpyDeviceToHost,
                          stream) == cudaSuccess);
  REQUIRE(cudaMemcpyAsync(sorted.data(), buffers.keys_out, sorted.size() * sizeof(std::uint64_t),
                          cudaMemcpyDeviceToHost, stream) == cudaSuccess);
  CHECK(order == expected);
  for (std::size_t i = 0; i < keys.size(); ++i) CHECK(sorted[i] == keys[std::size_t(expected[i])]);
  CHECK(cudaFree(temporary) == cudaSuccess);
  CHECK(cudaStreamDestroy(stream) == cudaSuccess);
}

TEST_CASE("emulated CUB: float keys sort as CUB orders them, -0 before +0") {
  const std::vector<float> keys{1.5f, -0.0f, 0.0f, -2.0f, 0.0f, -0.0f, -1e30f, 3.0f};
  sort_buffers<float, int> buffers(keys);
  std::size_t bytes = 0;
  REQUIRE(cub::DeviceRadixSort::SortPairsDescending(nullptr, bytes, buffers.keys_in, buffers.keys_out,
                                                    buffers.values_in, buffers.values_out, keys.size()) == cudaSuccess);
  void* temporary = nullptr;
  REQUIRE(cudaMalloc(&temporary, bytes) == cudaSuccess);
  REQUIRE(cub::DeviceRadixSort::SortPairsDescending(temporary, bytes, buffers.keys_in, buffers.keys_out,
                                                    buffers.values_in, buffers.values_out, keys.size()) == cudaSuccess);
  std::vector<int> order(keys.size());
  REQUIRE(cudaMemcpy(order.data(), buffers.values_out, order.size() * sizeof(int), cudaMemcpyDeviceToHost) ==
          cudaSuccess);
  // Descending: +0 (indices 2, 4, stable) before -0 (1, 5).
  CHECK(order == std::vector<int>{7, 0, 2, 4, 1, 5, 3, 6});
  CHECK(cudaFree(temporary) == cudaSuccess);
}

TEST_CASE("emulated CUB: the temporary storage contract") {
  const std::vector<std::uint64_t> keys{3, 1, 2};
  sort_buffers<std::uint64_t, int> buffers(keys);
  std::size_t bytes = 0;
  REQUIRE(cub::DeviceRadixSort::SortPairs(nullptr, bytes, buffers.keys_in, buffers.keys_out, buffers.values_in,
                                          buffers.values_out, keys.size()) == cudaSuccess);
  REQUIRE(bytes > 0);
  std::vector<unsigned char> host(bytes);
  CHECK(cub::DeviceRadixSort::SortPairs(host.data(), bytes, buffers.keys_in, buffers.keys_out, buffers.values_in,
                                        buffers.values_out, keys.size()) == cudaErrorInvalidValue);
  void* temporary = nullptr;
  REQUIRE(cudaMalloc(&temporary, bytes) == cudaSuccess);
  std::size_t too_few = bytes - 1;
  CHECK(cub::DeviceRadixSort::SortPairs(temporary, too_few, buffers.keys_in, buffers.keys_out, buffers.values_in,
                                        buffers.values_out, keys.size()) == cudaErrorInvalidValue);
  std::size_t past_end = bytes;
  CHECK(cub::DeviceRadixSort::SortPairs(static_cast<unsigned char*>(temporary) + 1, past_end, buffers.keys_in,
                                        buffers.keys_out, buffers.values_in, buffers.values_out,
                                        keys.size()) == cudaErrorInvalidValue);
  CHECK(cudaFree(temporary) == cudaSuccess);
}
