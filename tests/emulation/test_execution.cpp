// The execution half's proof that its checks fire: planted kernels, each launched through
// cudaLaunchKernelEx as memloc launches, one per check; and kernels whose exact results show
// barriers, warp operations and atomics do what CUDA specifies.

#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "report_capture.hpp"

// Kernels live in a named namespace: an internal symbol is invisible to dladdr, and reports
// would name an address instead.
namespace emulation_self_test {

// The test's own stand-ins for kernels/memloc/kernels/shared_memory.cuh.
template <class T, class Tag>
T& static_shared() {
  static char key;
  return *static_cast<T*>(memloc_emulation::block_static_shared(&key, sizeof(T), alignof(T)));
}
template <class T>
T* dynamic_shared() {
  return static_cast<T*>(memloc_emulation::block_dynamic_shared());
}

template <class T>
class device_buffer {
 public:
  explicit device_buffer(std::size_t count, T initial = T{}) : device_buffer(std::vector<T>(count, initial)) {}
  // Device memory is out of the host's reach: values travel by blocking copies.
  explicit device_buffer(const std::vector<T>& initial) : count_(initial.size()) {
    REQUIRE(cudaMalloc(reinterpret_cast<void**>(&data_), count_ * sizeof(T)) == cudaSuccess);
    REQUIRE(cudaMemcpy(data_, initial.data(), count_ * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  ~device_buffer() { cudaFree(data_); }
  T* data() const { return data_; }
  T operator[](std::size_t i) const {
    T value{};
    REQUIRE(cudaMemcpy(&value, data_ + i, sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
    return value;
  }
  void set(std::size_t i, const T& value) const {
    REQUIRE(cudaMemcpy(data_ + i, &value, sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  // Waits for the queued work that writes the buffer, as a blocking copy to the host does.
  std::vector<T> values() const {
    std::vector<T> host(count_);
    REQUIRE(cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
    return host;
  }

 private:
  T* data_ = nullptr;
  std::size_t count_ = 0;
};

template <class... Parameters, class... Arguments>
cudaError_t launch(dim3 grid, dim3 block, std::size_t dynamic_shared_bytes, void (*kernel)(Parameters...),
                   Arguments&&... arguments) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = dynamic_shared_bytes;
  config.stream = nullptr;
  return cudaLaunchKernelEx(&config, kernel, std::forward<Arguments>(arguments)...);
}

// The report of the failure `run` provokes, or "" if none. Launches are queued: the planted
// bug runs at the synchronization.
template <class Run>
std::string report_of(Run run) {
  return memloc_emulation::testing::report_of([&] {
    run();
    cudaDeviceSynchronize();
  });
}

// ---- planted bugs ----

__global__ void divergent_barrier_kernel(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

__global__ void barrier_against_warp_kernel(int* out) {
  if (threadIdx.x == 0) {
    __syncthreads();
  } else {
    __syncwarp();
  }
  out[threadIdx.x] = 1;
}

__global__ void shuffle_after_exit_kernel(int* out) {
  if (threadIdx.x == 5) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, static_cast<int>(threadIdx.x), 1);
}

__global__ void full_mask_shuffle_kernel(int* out) {
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, static_cast<int>(threadIdx.x), 1);
}

__global__ void bad_width_kernel(int* out) {
  out[threadIdx.x] = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x), 0, 12);
}

__global__ void foreign_mask_kernel(int* out) {
  out[threadIdx.x] = __ballot_sync(threadIdx.x == 9 ? 0x1u : 0xfffffdffu, 1);
}

__global__ void mismatched_masks_kernel(int* out) {
  const unsigned mask = threadIdx.x == 3 ? 0x0000ffffu : 0xffffffffu;
  out[threadIdx.x] = __shfl_sync(mask, static_cast<int>(threadIdx.x), 0);
}

struct race_tag {};
__global__ void shared_race_kernel(int* out) {
  int& shared = static_shared<int, race_tag>();
  if (threadIdx.x == 0) shared = 42;
  if (threadIdx.x == 1) out[0] = shared;  // no barrier between the write and the read
}

// Views as memloc passes them: a class holding a device pointer, read-only when its
// element_type is const.
struct int_view {
  int* data;
  long long size;
};
struct const_int_view {
  using element_type = const int;
  const int* data;
  long long size;
};

struct view_race_tag {};
__global__ void view_race_kernel(int_view out) {
  int& shared = static_shared<int, view_race_tag>();
  if (threadIdx.x == 0) shared = 42;
  if (threadIdx.x == 1) out.data[out.size - 1] = shared;
}

// Writes through a view declared read-only: the race check does not compare what it cannot
// know is written, which is why views must say const truthfully.
__global__ void const_view_race_kernel(const_int_view out) {
  int& shared = static_shared<int, view_race_tag>();
  if (threadIdx.x == 0) shared = 42;
  if (threadIdx.x == 1) const_cast<int*>(out.data)[out.size - 1] = shared;
}

struct too_large_tag {};
__global__ void too_much_shared_kernel(int* out) { out[0] = static_shared<char[40 * 1024], too_large_tag>()[0]; }

// Only the last block uses shared memory, racily: the check must not stop at blocks that did not.
__global__ void last_block_race_kernel(int* out) {
  if (blockIdx.x + 1 < gridDim.x) return;
  int& shared = static_shared<int, race_tag>();
  if (threadIdx.x == 0) shared = 42;
  if (threadIdx.x == 1) out[0] = shared;
}

struct ordered_tag {};
__global__ void shared_ordered_kernel(int* out) {
  int& shared = static_shared<int, ordered_tag>();
  if (threadIdx.x == 0) shared = 42;
  __syncthreads();
  if (threadIdx.x == 1) out[0] = shared;
}

struct same_value_tag {};
__global__ void same_value_writes_kernel(int* out) {
  int& shared = static_shared<int, same_value_tag>();
  shared = 7;  // every thread writes the same value: racy in form, not in result
  __syncthreads();
  if (threadIdx.x == 0) out[0] = shared;
}

struct unwritten_tag {};
__global__ void read_before_write_kernel(double* out, unsigned* bits) {
  out[threadIdx.x] = static_shared<double, unwritten_tag>();
  bits[threadIdx.x] = dynamic_shared<unsigned>()[threadIdx.x];
}

// block_sum's shape twice over. Without `protect`, nothing keeps warp 1..7's lane 0 from
// writing the second call's partial before thread 0 has read the first call's: only the
// shuffles separate them, and a shuffle orders the lanes of one warp, not the warps.
constexpr int sum_warps = 8;
struct two_sums_tag {};

__device__ double warp_total(double value) {
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

__device__ double block_total(double value, double* shared, int protect) {
  value = warp_total(value);
  if (protect != 0) __syncthreads();
  if (threadIdx.x % warpSize == 0) shared[threadIdx.x / warpSize] = value;
  __syncthreads();
  double total = 0;
  if (threadIdx.x == 0) {
    for (int w = 0; w < sum_warps; ++w) total += shared[w];
  }
  return total;
}

__global__ void two_block_sums_kernel(const double* values, double* out, int protect) {
  double* shared = static_shared<double[sum_warps], two_sums_tag>();
  const double value = values[threadIdx.x];
  const double first = block_total(value, shared, protect);
  const double second = block_total(value * value, shared, protect);
  if (threadIdx.x == 0) {
    out[0] = first;
    out[1] = second;
  }
}

// ---- kernels that must compute exactly ----

constexpr int max_warps = 32;
struct partials_tag {};

__device__ long long warp_sum(long long value) {
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

// A grid-stride loop, a warp reduction, then one across the warps through shared memory.
__global__ void block_sum_kernel(const int* values, long long n, unsigned long long* total) {
  long long* partials = static_shared<long long[max_warps], partials_tag>();
  long long mine = 0;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    mine += values[i];
  }
  mine = warp_sum(mine);
  const unsigned warps = blockDim.x / warpSize;
  if (threadIdx.x % warpSize == 0) partials[threadIdx.x / warpSize] = mine;
  __syncthreads();
  if (threadIdx.x < warpSize) {
    long long block = threadIdx.x < warps ? partials[threadIdx.x] : 0;
    block = warp_sum(block);
    if (threadIdx.x == 0) atomicAdd(total, static_cast<unsigned long long>(block));
  }
}

struct atomic_results {
  int sum;
  unsigned maximum;
  long long minimum;
  unsigned long long bits;
  float float_sum;
  double double_sum;
  int winners;
  int cas_target;
  unsigned long long exchanged;
};

__global__ void atomics_kernel(atomic_results* r) {
  const unsigned t = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(&r->sum, 1);
  atomicSub(&r->sum, 2);
  atomicMax(&r->maximum, t * 3);
  atomicMin(&r->minimum, -static_cast<long long>(t));
  atomicOr(&r->bits, 1ull << (t % 64));
  atomicAdd(&r->float_sum, 0.5f);
  atomicAdd(&r->double_sum, 0.25);
  if (atomicCAS(&r->cas_target, 0, 1) == 0) atomicAdd(&r->winners, 1);
  atomicExch(&r->exchanged, 99ull);
}

__global__ void ballot_kernel(unsigned* ballots, int* votes, int* counts) {
  const unsigned lane = threadIdx.x % 32;
  ballots[threadIdx.x] = __ballot_sync(0xffffffffu, lane % 3 == 0);
  votes[threadIdx.x * 2] = __any_sync(0xffffffffu, lane == 7);
  votes[threadIdx.x * 2 + 1] = __all_sync(0xffffffffu, lane < 31);
  counts[threadIdx.x * 3] = __syncthreads_count(threadIdx.x % 2 == 0);
  counts[threadIdx.x * 3 + 1] = __syncthreads_and(threadIdx.x < 1000);
  counts[threadIdx.x * 3 + 2] = __syncthreads_or(threadIdx.x == 17);
}

__global__ void sub_warp_shuffle_kernel(int* out) {
  const int lane = static_cast<int>(threadIdx.x);
  out[lane * 5] = __shfl_sync(0xffffffffu, lane, 3, 8);            // lane 3 of each group of 8
  out[lane * 5 + 1] = __shfl_up_sync(0xffffffffu, lane, 2, 8);     // own value in a group's first 2
  out[lane * 5 + 2] = __shfl_down_sync(0xffffffffu, lane, 2, 8);   // own value in a group's last 2
  out[lane * 5 + 3] = __shfl_xor_sync(0xffffffffu, lane, 16, 16);  // only upper groups reach lower ones
  out[lane * 5 + 4] = __shfl_sync(0xffffffffu, lane, 37);          // srcLane wraps modulo width
}

// Two half-warps, each with its own mask, at different call sites: legal, as each mask's lanes
// all meet at one operation.
__global__ void half_warp_masks_kernel(int* out, unsigned* active) {
  const int lane = static_cast<int>(threadIdx.x);
  if (lane < 16) {
    out[lane] = __shfl_down_sync(0x0000ffffu, lane * 10, 1, 16);
  } else {
    __syncwarp(0xffff0000u);
    out[lane] = __ballot_sync(0xffff0000u, lane % 2 == 0) == 0x55550000u;
  }
  if (lane == 31) return;
  active[lane] = __activemask();
}

__global__ void wide_types_shuffle_kernel(double* d, float* f, unsigned long long* u, std::int64_t* s) {
  const unsigned lane = threadIdx.x;
  d[lane] = __shfl_down_sync(0xffffffffu, 0.5 * lane, 1);
  f[lane] = __shfl_up_sync(0xffffffffu, 0.25f * static_cast<float>(lane), 1);
  u[lane] = __shfl_xor_sync(0xffffffffu, (1ull << 40) + lane, 1);
  s[lane] = __shfl_sync(0xffffffffu, static_cast<std::int64_t>(lane) - (std::int64_t{1} << 35), 0);
}

// Each thread takes a ticket on arrival: the tickets are the order threads and blocks ran in.
__global__ void order_kernel(unsigned* thread_tickets, unsigned* block_tickets, unsigned* counters) {
  thread_tickets[blockIdx.x * blockDim.x + threadIdx.x] = atomicAdd(&counters[blockIdx.x + 1], 1u);
  if (threadIdx.x == 0) block_tickets[blockIdx.x] = atomicAdd(&counters[0], 1u);
}

__global__ void indices_kernel(unsigned* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  __syncthreads();
  out[block * blockDim.x * blockDim.y * blockDim.z + thread] =
      threadIdx.x + 10 * threadIdx.y + 100 * threadIdx.z + 1000 * (blockIdx.x + 10 * blockIdx.y + 100 * blockIdx.z);
}

__global__ void nothing_kernel(int* out) { out[0] = 1; }

struct four_barriers_tag {};
__global__ void four_barriers_kernel(float* out) {
  float* shared = static_shared<float[256], four_barriers_tag>();
  shared[threadIdx.x] = static_cast<float>(threadIdx.x);
  __syncthreads();
  float value = shared[(threadIdx.x + 1) % blockDim.x];
  __syncthreads();
  shared[threadIdx.x] = value * 2;
  __syncthreads();
  value += shared[(threadIdx.x + 3) % blockDim.x];
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = value;
}

}  // namespace emulation_self_test

using namespace emulation_self_test;

namespace {

using memloc_emulation::testing::contains;

}  // namespace

TEST_CASE("emulation: a __syncthreads not reached by every thread is a divergent barrier") {
  const device_buffer<int> out(64);
  const std::string report = report_of([&] { launch(dim3(2), dim3(64), 0, divergent_barrier_kernel, out.data()); });
  INFO(report);
  CHECK(contains(report, "divergent barrier"));
  CHECK(contains(report, "emulation_self_test::divergent_barrier_kernel(int*)"));
  CHECK(contains(report, ", block ("));
  CHECK(contains(report, ", thread ("));
  CHECK(contains(report, "test_execution.cpp:"));
  CHECK(contains(report, "MEMLOC_EMULATION_SEED="));
}

TEST_CASE("emulation: a barrier some threads wait at while others wait at a warp operation is a deadlock") {
  const device_buffer<int> out(64);
  const std::string report = report_of([&] { launch(dim3(1), dim3(64), 0, barrier_against_warp_kernel, out.data()); });
  INFO(report);
  CHECK(contains(report, "deadlock"));
  CHECK(contains(report, "barrier_against_warp_kernel"));
  CHECK(contains(report, "thread (0, 0, 0)"));
  CHECK(contains(report, "__syncwarp"));
}

TEST_CASE("emulation: a shuffle whose mask names an exited or missing lane is reported") {
  const device_buffer<int> out(64);
  std::string report = report_of([&] { launch(dim3(1), dim3(32), 0, shuffle_after_exit_kernel, out.data()); });
  INFO(report);
  CHECK(contains(report, "shuffle_after_exit_kernel"));
  CHECK(contains(report, "names lane 5, which has exited"));
  CHECK(contains(report, "__shfl_xor_sync"));

  // A block of 48 threads: its second warp has 16 lanes, not the 32 a full mask names.
  report = report_of([&] { launch(dim3(1), dim3(48), 0, full_mask_shuffle_kernel, out.data()); });
  CHECK(contains(report, "names lane 16, which does not exist"));
  CHECK(contains(report, "thread (32, 0, 0)"));

  // Reported from inside the calling fiber, before it waits.
  report = report_of([&] { launch(dim3(1), dim3(32), 0, bad_width_kernel, out.data()); });
  CHECK(contains(report, "with width 12: not a power of 2 from 1 to 32"));
  report = report_of([&] { launch(dim3(1), dim3(32), 0, foreign_mask_kernel, out.data()); });
  CHECK(contains(report, "thread (9, 0, 0): __ballot_sync"));
  CHECK(contains(report, "does not name the calling lane 9"));

  report = report_of([&] { launch(dim3(1), dim3(32), 0, mismatched_masks_kernel, out.data()); });
  CHECK(contains(report, "mismatched_masks_kernel"));
  CHECK(contains(report, "the same warp operation with the same mask"));
}

TEST_CASE("emulation: a data race on block-shared memory is reported, ordered and same-value writes are not") {
  const device_buffer<int> out(1);
  const std::string report = report_of([&] { launch(dim3(3), dim3(64), 0, shared_race_kernel, out.data()); });
  INFO(report);
  CHECK(contains(report, "data race: what the block writes depends on the order of its threads"));
  CHECK(contains(report, "shared_race_kernel"));
  CHECK(contains(report, ", block ("));
  CHECK(contains(report, "byte 0 of the device allocation"));
  CHECK(contains(report, "written last by thread (1, 0, 0)"));

  const std::string last = report_of([&] { launch(dim3(40), dim3(32), 0, last_block_race_kernel, out.data()); });
  INFO(last);
  CHECK(contains(last, "kernel emulation_self_test::last_block_race_kernel(int*), block (39, 0, 0): data race:"));

  CHECK(report_of([&] { launch(dim3(3), dim3(64), 0, shared_ordered_kernel, out.data()); }).empty());
  CHECK(out[0] == 42);
  CHECK(report_of([&] { launch(dim3(3), dim3(64), 0, same_value_writes_kernel, out.data()); }).empty());
  CHECK(out[0] == 7);
}

TEST_CASE("emulation: a race across shuffles, between two block reductions sharing partials, is reported") {
  std::vector<double> host(256);
  for (std::size_t t = 0; t < host.size(); ++t) host[t] = static_cast<double>(t + 1);
  const device_buffer<double> values(host);
  const device_buffer<double> out(2);
  const std::string report =
      report_of([&] { launch(dim3(1), dim3(256), 0, two_block_sums_kernel, values.data(), out.data(), 0); });
  INFO(report);
  CHECK(contains(report, "data race: what the block writes depends on the order of its threads"));
  CHECK(contains(report, "two_block_sums_kernel"));

  CHECK(report_of([&] { launch(dim3(1), dim3(256), 0, two_block_sums_kernel, values.data(), out.data(), 1); })
            .empty());
  CHECK(out[0] == 256.0 * 257 / 2);
  CHECK(out[1] == 256.0 * 257 * 513 / 6);
}

TEST_CASE("emulation: device memory inside class arguments is found, written unless the view is const") {
  const device_buffer<int> out(10);
  const std::string report = report_of([&] {
    launch(dim3(1), dim3(32), 0, view_race_kernel, int_view{out.data(), 10});
  });
  INFO(report);
  CHECK(contains(report, "data race: what the block writes depends on the order of its threads"));
  CHECK(contains(report, "byte 36 of the device allocation"));
  CHECK(report_of([&] {
          launch(dim3(1), dim3(32), 0, const_view_race_kernel, const_int_view{out.data(), 10});
        }).empty());
}

TEST_CASE("emulation: static and dynamic block-shared memory beyond 48 KiB is reported") {
  const device_buffer<int> out(1);
  const std::string report =
      report_of([&] { launch(dim3(1), dim3(32), 16 * 1024, too_much_shared_kernel, out.data()); });
  CHECK(contains(report, "exceed 48 KiB"));
  CHECK(contains(report, "too_much_shared_kernel"));
  CHECK(launch(dim3(1), dim3(32), 8 * 1024, too_much_shared_kernel, out.data()) == cudaSuccess);
}

TEST_CASE("emulation: block-shared memory read before any write holds the poison pattern") {
  const device_buffer<double> out(32);
  const device_buffer<unsigned> bits(32);
  CHECK(launch(dim3(1), dim3(32), 32 * sizeof(unsigned), read_before_write_kernel, out.data(), bits.data()) ==
        cudaSuccess);
  for (int t = 0; t < 32; ++t) {
    CHECK(std::isnan(out[t]));
    CHECK(bits[t] == 0xffffffffu);
  }
}

TEST_CASE("emulation: a block reduction with barriers and shuffles is exact for every block size") {
  const long long n = 100003;
  std::vector<int> host(static_cast<std::size_t>(n));
  unsigned long long expected = 0;
  for (long long i = 0; i < n; ++i) {
    host[static_cast<std::size_t>(i)] = static_cast<int>(i % 1000) - 300;
    expected += static_cast<unsigned long long>(static_cast<long long>(host[static_cast<std::size_t>(i)]));
  }
  const device_buffer<int> values(host);
  for (unsigned threads : {32u, 64u, 96u, 256u, 1024u}) {
    for (unsigned blocks : {1u, 7u}) {
      const device_buffer<unsigned long long> total(1);
      CAPTURE(threads);
      CAPTURE(blocks);
      CHECK(launch(dim3(blocks), dim3(threads), 0, block_sum_kernel, values.data(), n, total.data()) == cudaSuccess);
      CHECK(total[0] == expected);
      // An int argument for a long long parameter converts implicitly, as with the toolkit.
      total.set(0, 0);
      CHECK(launch(dim3(blocks), dim3(threads), 0, block_sum_kernel, values.data(), 100003, total.data()) ==
            cudaSuccess);
      CHECK(total[0] == expected);
    }
  }
}

TEST_CASE("emulation: atomics follow CUDA's overloads and results") {
  const device_buffer<atomic_results> r(1);
  r.set(0, atomic_results{0, 0, 5, 0, 0.0f, 0.0, 0, 0, 0});
  CHECK(launch(dim3(4), dim3(128), 0, atomics_kernel, r.data()) == cudaSuccess);
  CHECK(r[0].sum == -512);
  CHECK(r[0].maximum == 511u * 3);
  CHECK(r[0].minimum == -511);
  CHECK(r[0].bits == ~0ull);
  CHECK(r[0].float_sum == 256.0f);
  CHECK(r[0].double_sum == 128.0);
  CHECK(r[0].winners == 1);
  CHECK(r[0].exchanged == 99ull);
}

TEST_CASE("emulation: integer intrinsics give CUDA's results, including at zero") {
  CHECK(__popc(0xf0f0u) == 8);
  CHECK(__popcll(~0ull) == 64);
  CHECK(__clz(0) == 32);
  CHECK(__clz(1) == 31);
  CHECK(__clz(-1) == 0);
  CHECK(__clzll(0) == 64);
  CHECK(__clzll(1ll << 40) == 23);
  CHECK(__ffs(0) == 0);
  CHECK(__ffs(0x18) == 4);
  CHECK(__ffsll(1ll << 50) == 51);
  CHECK(__brev(1u) == 0x80000000u);
  CHECK(__brev(0x12345678u) == 0x1e6a2c48u);
  CHECK(__brevll(1ull) == 0x8000000000000000ull);
  unsigned short half = 3;
  CHECK(atomicCAS(&half, static_cast<unsigned short>(3), static_cast<unsigned short>(9)) == 3);
  CHECK(half == 9);
  unsigned counter = 4;
  CHECK(atomicInc(&counter, 4u) == 4);
  CHECK(counter == 0);
  CHECK(atomicDec(&counter, 7u) == 0);
  CHECK(counter == 7);
  CHECK(__float_as_uint(1.0f) == 0x3f800000u);
  CHECK(__int_as_float(__float_as_int(-2.5f)) == -2.5f);
  CHECK(__uint_as_float(0x40000000u) == 2.0f);
  CHECK(__double_as_longlong(1.0) == 0x3ff0000000000000ll);
  CHECK(__longlong_as_double(0x4000000000000000ll) == 2.0);
  const double loaded = 2.5;
  CHECK(__ldg(&loaded) == 2.5);
}

TEST_CASE("emulation: ballot, any, all and the counting barriers") {
  const unsigned threads = 64;
  const device_buffer<unsigned> ballots(threads);
  const device_buffer<int> votes(threads * 2);
  const device_buffer<int> counts(threads * 3);
  CHECK(launch(dim3(1), dim3(threads), 0, ballot_kernel, ballots.data(), votes.data(), counts.data()) == cudaSuccess);
  unsigned expected = 0;
  for (unsigned lane = 0; lane < 32; lane += 3) expected |= 1u << lane;
  for (unsigned t = 0; t < threads; ++t) {
    CHECK(ballots[t] == expected);
    CHECK(votes[t * 2] == 1);
    CHECK(votes[t * 2 + 1] == 0);
    CHECK(counts[t * 3] == 32);
    CHECK(counts[t * 3 + 1] == 1);
    CHECK(counts[t * 3 + 2] == 1);
  }
}

TEST_CASE("emulation: shuffles with sub-warp widths follow CUDA's segment rules") {
  const device_buffer<int> out(32 * 5);
  CHECK(launch(dim3(1), dim3(32), 0, sub_warp_shuffle_kernel, out.data()) == cudaSuccess);
  for (int lane = 0; lane < 32; ++lane) {
    CAPTURE(lane);
    CHECK(out[lane * 5] == (lane / 8) * 8 + 3);
    CHECK(out[lane * 5 + 1] == (lane % 8 < 2 ? lane : lane - 2));
    CHECK(out[lane * 5 + 2] == (lane % 8 >= 6 ? lane : lane + 2));
    CHECK(out[lane * 5 + 3] == (lane < 16 ? lane : lane - 16));
    CHECK(out[lane * 5 + 4] == 5);
  }
}

TEST_CASE("emulation: half-warps may run different warp operations with disjoint masks") {
  const device_buffer<int> out(32);
  const device_buffer<unsigned> active(32);
  CHECK(launch(dim3(1), dim3(32), 0, half_warp_masks_kernel, out.data(), active.data()) == cudaSuccess);
  for (int lane = 0; lane < 16; ++lane) CHECK(out[lane] == (lane == 15 ? 150 : (lane + 1) * 10));
  for (int lane = 16; lane < 32; ++lane) CHECK(out[lane] == 1);
  // Which other lanes are still active is up to the scheduler, as on a GPU; the caller always is.
  for (int lane = 0; lane < 31; ++lane) CHECK((active[lane] & (1u << lane)) != 0);
}

TEST_CASE("emulation: shuffles move 8-byte and floating-point values whole") {
  const device_buffer<double> d(32);
  const device_buffer<float> f(32);
  const device_buffer<unsigned long long> u(32);
  const device_buffer<std::int64_t> s(32);
  CHECK(launch(dim3(1), dim3(32), 0, wide_types_shuffle_kernel, d.data(), f.data(), u.data(), s.data()) == cudaSuccess);
  for (unsigned lane = 0; lane < 32; ++lane) {
    CHECK(d[lane] == 0.5 * (lane == 31 ? 31 : lane + 1));
    CHECK(f[lane] == 0.25f * static_cast<float>(lane == 0 ? 0 : lane - 1));
    CHECK(u[lane] == (1ull << 40) + (lane ^ 1u));
    CHECK(s[lane] == -(std::int64_t{1} << 35));
  }
}

TEST_CASE("emulation: the same seed gives the same block and thread orders") {
  const unsigned blocks = 8, threads = 64;
  auto run = [&] {
    const device_buffer<unsigned> thread_tickets(blocks * threads);
    const device_buffer<unsigned> block_tickets(blocks);
    const device_buffer<unsigned> counters(blocks + 1);
    CHECK(launch(dim3(blocks), dim3(threads), 0, order_kernel, thread_tickets.data(), block_tickets.data(),
                 counters.data()) == cudaSuccess);
    return std::make_pair(thread_tickets.values(), block_tickets.values());
  };
  const auto first = run();
  const auto second = run();
  CHECK(first == second);
  // The orders are drawn, not the index order, and differ from block to block.
  std::vector<unsigned> identity(threads);
  for (unsigned t = 0; t < threads; ++t) identity[t] = t;
  const std::vector<unsigned> block0(first.first.begin(), first.first.begin() + threads);
  const std::vector<unsigned> block1(first.first.begin() + threads, first.first.begin() + 2 * threads);
  CHECK(block0 != identity);
  CHECK(block0 != block1);
}

TEST_CASE("emulation: three-dimensional blocks and grids number threads x fastest") {
  const dim3 grid(3, 2, 2), block(8, 4, 2);
  const device_buffer<unsigned> out(12 * 64);
  CHECK(launch(grid, block, 0, indices_kernel, out.data()) == cudaSuccess);
  unsigned i = 0;
  for (unsigned bz = 0; bz < 2; ++bz)
    for (unsigned by = 0; by < 2; ++by)
      for (unsigned bx = 0; bx < 3; ++bx)
        for (unsigned z = 0; z < 2; ++z)
          for (unsigned y = 0; y < 4; ++y)
            for (unsigned x = 0; x < 8; ++x) CHECK(out[i++] == x + 10 * y + 100 * z + 1000 * (bx + 10 * by + 100 * bz));
}

TEST_CASE("emulation: an invalid launch configuration is rejected without running") {
  const device_buffer<int> out(1);
  const auto rejected = [&](dim3 grid, dim3 block, std::size_t shared) {
    CHECK(launch(grid, block, shared, nothing_kernel, out.data()) == cudaErrorInvalidConfiguration);
    CHECK(cudaPeekAtLastError() == cudaErrorInvalidConfiguration);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
    CHECK(cudaGetLastError() == cudaSuccess);
  };
  rejected(dim3(1), dim3(1025), 0);
  rejected(dim3(1), dim3(512, 1, 3), 0);
  rejected(dim3(1), dim3(1, 1, 65), 0);
  rejected(dim3(1, 65536), dim3(32), 0);
  rejected(dim3(0), dim3(32), 0);
  rejected(dim3(1), dim3(32), 64 * 1024);
  CHECK(out[0] == 0);
  CHECK(launch(dim3(1, 2), dim3(1024), 48 * 1024, nothing_kernel, out.data()) == cudaSuccess);
  CHECK(out[0] == 1);
  // The largest valid shape (too large to run here).
  cudaLaunchConfig_t largest{};
  largest.gridDim = dim3(2147483647u, 65535, 65535);
  largest.blockDim = dim3(1024);
  largest.dynamicSmemBytes = 48 * 1024;
  CHECK(memloc_emulation::detail::valid_configuration(largest));
  largest.blockDim = dim3(1, 1, 64);
  CHECK(memloc_emulation::detail::valid_configuration(largest));
}

TEST_CASE("emulation: 64 blocks of 256 threads pass values across 4 barriers each") {
  // Timing belongs in a benchmark, not here; this only checks that every block's threads see
  // each other's writes after each barrier.
  const device_buffer<float> out(64 * 256);
  CHECK(launch(dim3(64), dim3(256), 0, four_barriers_kernel, out.data()) == cudaSuccess);
  const std::vector<float> values = out.values();
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::size_t t = i % 256;
    CHECK(values[i] == static_cast<float>((t + 1) % 256) + 2.0f * static_cast<float>((t + 4) % 256));
  }
}
