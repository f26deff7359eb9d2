#pragma once

// Sample indices ordered by device scores exactly as detail::order_by_score orders them on
// the host (highest or lowest first, ties by lower index, NaN last in either direction): a
// stable radix sort of (ranking_key, index) pairs, ascending for both directions since the
// key already encodes the direction, which keeps one CUB instantiation.

#include <cuda_runtime_api.h>

#include <cub/device/device_radix_sort.cuh>

#include <cstddef>
#include <cstdint>

#include "../../view.hpp"
#include "memloc/kernels/ranking.cuh"
#include "launch.cuh"
#include "runtime.cuh"

namespace memloc::detail::cuda {

// Built for n scores, it holds every buffer the sort needs (CUB's temporary storage
// included), so ordering allocates nothing and can serve an accumulator's finalize.
template <class Index = std::int64_t>
class score_order {
 public:
  score_order(index_t n, const char* function)
      : n_(n), keys_(n, function), sorted_keys_(n, function), indices_(n, function), order_(n, function) {
    std::size_t bytes = 0;
    check(sort(nullptr, bytes, nullptr), function, "cub::DeviceRadixSort::SortPairs (sizing)");
    // Never empty: CUB takes a null buffer as a request for the size.
    temporary_ = device_array<unsigned char>(static_cast<index_t>(bytes > 0 ? bytes : 1), function);
  }

  // Enqueues the ordering of scores[i * stride], i in [0, n), on `stream`; returns the
  // device array of all n indices, first ranked first, valid until the next call.
  const Index* order(const double* scores, index_t stride, bool descending, cudaStream_t stream, const char* function) {
    if (n_ == 0) return order_.data();
    launch(function, "the ranking key kernel", kernels::ranking_keys<Index>, kernels::grid_for(n_),
           kernels::block_threads, 0, stream, scores, stride, n_, descending, keys_.data(), indices_.data());
    std::size_t bytes = temporary_.bytes();
    check(sort(temporary_.data(), bytes, stream), function, "cub::DeviceRadixSort::SortPairs");
    return order_.data();
  }

  index_t size() const noexcept { return n_; }

 private:
  cudaError_t sort(void* temporary, std::size_t& bytes, cudaStream_t stream) {
    return cub::DeviceRadixSort::SortPairs(temporary, bytes, keys_.data(), sorted_keys_.data(), indices_.data(),
                                           order_.data(), n_, 0, 64, stream);
  }

  index_t n_;
  device_array<std::uint64_t> keys_;
  device_array<std::uint64_t> sorted_keys_;
  device_array<Index> indices_;
  device_array<Index> order_;
  device_array<unsigned char> temporary_;
};

}  // namespace memloc::detail::cuda
