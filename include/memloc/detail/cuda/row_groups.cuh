#pragma once

// Adding a chunk's rows into state rows chosen by a key that may repeat within the chunk
// (per_sample UnitMem: the sample id; ClassMem with many classes: the label), spread over
// rows and units yet with every state cell's rows added in row order, so the sums do not
// depend on scheduling: the (key, row) pairs are sorted by CUB's stable radix sort, then a
// thread per (group, unit) adds its group's rows (kernels::group_keys, add_grouped_rows).

#include <cuda_runtime_api.h>

#include <cub/device/device_radix_sort.cuh>

#include <cstddef>
#include <cstdint>

#include "memloc/detail/cuda/launch.cuh"
#include "memloc/detail/cuda/runtime.cuh"
#include "memloc/kernels/unitmem.cuh"

namespace memloc::detail::cuda {

class keyed_row_adder {
 public:
  // For chunks of at most `chunk_rows` rows and keys in [0, key_limit); everything the sort
  // needs (CUB's temporary storage included) is allocated here, so adding allocates nothing.
  keyed_row_adder(index_t chunk_rows, index_t key_limit, const char* function)
      : key_limit_(key_limit), key_bits_(bits_for(key_limit)), keys_(chunk_rows, function),
        sorted_keys_(chunk_rows, function), rows_(chunk_rows, function), sorted_rows_(chunk_rows, function) {
    std::size_t bytes = 0;
    check(sort(nullptr, bytes, chunk_rows, nullptr), function, "cub::DeviceRadixSort::SortPairs (sizing)");
    // Never empty: CUB takes a null buffer as a request for the size.
    temporary_ = device_array<unsigned char>(static_cast<index_t>(bytes > 0 ? bytes : 1), function);
  }

  // sums[key * units + u] += each accepted row's value of unit u, rows in order: the μ of
  // `totals` when elements > 0 (labels give the keys), the totals themselves when
  // elements == 0 (ids give the keys).
  void add(cudaStream_t stream, const double* totals, index_t rows, index_t units, index_t elements,
           kernels::index_list ids, kernels::index_list labels, index_t id_space, index_t classes, double* sums,
           const char* function) {
    launch(function, "the row grouping kernel", kernels::group_keys<>, kernels::grid_for(rows), kernels::block_threads,
           0, stream, ids, labels, rows, id_space, classes, keys_.data(), rows_.data());
    std::size_t bytes = temporary_.bytes();
    check(sort(temporary_.data(), bytes, rows, stream), function, "cub::DeviceRadixSort::SortPairs");
    launch(function, "the state update kernel", kernels::add_grouped_rows<>, kernels::grid_for(rows * units),
           kernels::block_threads, 0, stream, totals, rows, units, elements, sorted_keys_.data(), sorted_rows_.data(),
           static_cast<std::uint64_t>(key_limit_), sums);
  }

 private:
  // Bits that hold every key up to key_limit (the key of rejected rows): the sort looks at
  // no more.
  static int bits_for(index_t key_limit) {
    int bits = 1;
    while (bits < 64 && (static_cast<std::uint64_t>(key_limit) >> bits) != 0) ++bits;
    return bits;
  }

  cudaError_t sort(void* temporary, std::size_t& bytes, index_t rows, cudaStream_t stream) {
    return cub::DeviceRadixSort::SortPairs(temporary, bytes, keys_.data(), sorted_keys_.data(), rows_.data(),
                                           sorted_rows_.data(), rows, 0, key_bits_, stream);
  }

  index_t key_limit_;
  int key_bits_;
  device_array<std::uint64_t> keys_;
  device_array<std::uint64_t> sorted_keys_;
  device_array<std::int32_t> rows_;
  device_array<std::int32_t> sorted_rows_;
  device_array<unsigned char> temporary_;
};

}  // namespace memloc::detail::cuda
