#pragma once

// The device state of an alignment accumulator: SSL_f and SSL_g per sample id and the fold
// count per id, allocated when it is built. Ids are checked by the alignment kernel, so
// update never waits; merge and finalize wait for the stream to read what it found.

#include <cuda_runtime_api.h>

#include <cstdint>
#include <type_traits>
#include <vector>

#include "memloc/alignment_types.hpp"
#include "memloc/detail/cuda/accumulator_support.cuh"
#include "memloc/detail/cuda/launch.cuh"
#include "memloc/detail/formulas.hpp"
#include "memloc/kernels/alignment.cuh"
#include "memloc/options.hpp"
#include "memloc/state.hpp"
#include "memloc/view.hpp"

namespace memloc::detail::cuda {

template <class T, class Space>
kernels::representation_rows<std::remove_const_t<T>> rows_of(const representations_view<T, Space>& v) {
  return device_view_of(v);
}

// With more views than the kernel caches in shared memory, each block keeps its inverse
// norms in a slice of a global scratch, so such launches use at most this many blocks (a
// grid-stride loop over the items): enough to fill a GPU, for views x 32 KB of scratch.
inline constexpr index_t norm_scratch_blocks =
    kernels::grid_block_cap < index_t{4096} ? kernels::grid_block_cap : index_t{4096};

inline index_t norm_scratch_size(index_t views) {
  return views > kernels::cached_inverse_norms ? norm_scratch_blocks * views : 0;
}

class alignment_state {
 public:
  alignment_state(cudaStream_t stream, const alignment_shape& shape, const alignment_options& options,
                  const char* function)
      : shape_(shape), options_(options), ssl_f_(shape.samples, function), ssl_g_(shape.samples, function),
        folds_(shape.samples, function), missing_(1, function), norms_(norm_scratch_size(shape.views), function),
        books_(function) {
    reset(stream, function);
  }

  // One block per (sample, encoder): f and g of the batch in one launch.
  template <class TF, class SpaceF, class TG, class SpaceG, class I, class IdSpace>
  void update(cudaStream_t stream, const representations_view<TF, SpaceF>& f, const representations_view<TG, SpaceG>& g,
              const vector_view<I, IdSpace>& ids, const char* function) {
    const index_t batch = f.extent(0);
    if (batch == 0) return;
    const long long batch_number = books_.next_batch(function);
    const kernels::index_list id_list = index_list_of(ids);
    using TFE = std::remove_const_t<TF>;
    using TGE = std::remove_const_t<TG>;
    unsigned blocks = kernels::grid_for(2 * batch, 1);
    if (norms_.size() > 0 && blocks > norm_scratch_blocks) blocks = static_cast<unsigned>(norm_scratch_blocks);
    dispatch_distance(options_.distance, [&](auto op) {
      using Op = decltype(op);
      auto launch_with = [&](auto kernel) {
        launch(function, "the alignment kernel", kernel, blocks, kernels::block_threads, 0, stream, rows_of(f),
               rows_of(g), id_list, batch, shape_.views, shape_.features, options_.pairs, shape_.samples,
               ssl_f_.data(), ssl_g_.data(), folds_.data(), books_.status(), batch_number, norms_.data());
      };
      constexpr bool registers_fit = std::is_same_v<working_t<TFE>, float> && std::is_same_v<working_t<TGE>, float> &&
                                     !Op::needs_second_sum;
      if constexpr (registers_fit) {
        if (shape_.views <= kernels::register_views) {
          launch_with(kernels::fold_alignments<Op, true, TFE, TGE>);
          return;
        }
      }
      launch_with(kernels::fold_alignments<Op, false, TFE, TGE>);
    });
    launch(function, "the bad row report kernel", kernels::describe_bad_row<>, 1, 1, 0, stream, id_list, no_labels(),
           shape_.samples, index_t{0}, batch_number, books_.status());
  }

  void merge(cudaStream_t stream, const alignment_state& other, const char* function, const char* updating) {
    books_.check_mergeable_folds(other.books_, folds_.data(), other.folds_.data(), shape_.samples, stream, function,
                                 updating);
    // Each sample was folded by one side only and the other holds 0, so + merges exactly.
    add_state(ssl_f_, other.ssl_f_, stream, function);
    add_state(ssl_g_, other.ssl_g_, stream, function);
    add_state(folds_, other.folds_, stream, function);
  }

  // Every id in [0, samples) must have been folded exactly once.
  template <class Space>
  void finalize(cudaStream_t stream, const vector_view<double, Space>& out_f, const vector_view<double, Space>& out_g,
                const char* function, const char* updating) const {
    const auto s =
        books_.summarize<std::int32_t>(folds_.data(), nullptr, shape_.samples, 1, 1, stream, function, updating);
    if (s.first_over < shape_.samples) {
      fail(function, "each sample must be folded once across merged states, got sample id ", s.first_over, " folded ",
           read_element(folds_.data(), s.first_over, stream, function), " times");
    }
    if (static_cast<index_t>(s.distinct) != shape_.samples) {
      fail(function, "folded samples must be all ", shape_.samples, " ids, got ", s.distinct, " (first missing id ",
           first_unfolded(stream, function), ")");
    }
    launch(function, "the output kernel", kernels::write_alignments<>, kernels::grid_for(shape_.samples),
           kernels::block_threads, 0, stream, ssl_f_.data(), ssl_g_.data(), shape_.samples, out_f.data_handle(),
           out_f.stride(0), out_g.data_handle(), out_g.stride(0));
  }

  void reset(cudaStream_t stream, const char* function) {
    ssl_f_.zero(stream, function);
    ssl_g_.zero(stream, function);
    folds_.zero(stream, function);
    books_.reset(stream, function);
  }

  // Waits for the stream.
  index_t first_unfolded(cudaStream_t stream, const char* function) const {
    check(cudaMemsetAsync(missing_.data(), 0, missing_.bytes(), stream), function, "cudaMemsetAsync");
    launch(function, "the missing-id kernel", kernels::find_first_unfolded<>, kernels::grid_for(shape_.samples),
           kernels::block_threads, 0, stream, folds_.data(), shape_.samples, missing_.data());
    const unsigned long long complement = read_element(missing_.data(), 0, stream, function);
    return complement != 0 ? static_cast<index_t>(~complement) : shape_.samples;
  }

  std::vector<state_buffer> buffers() const {
    const auto n = static_cast<std::size_t>(shape_.samples);
    return {{"ssl_f", ssl_f_.data(), n, state_element::f64, state_reduction::sum},
            {"ssl_g", ssl_g_.data(), n, state_element::f64, state_reduction::sum},
            {"sample_folds", folds_.data(), n, state_element::i32, state_reduction::sum}};
  }

 private:
  alignment_shape shape_;
  alignment_options options_;
  device_array<double> ssl_f_;
  device_array<double> ssl_g_;
  device_array<std::int32_t> folds_;
  device_array<unsigned long long> missing_;  // finalize's first missing id
  device_array<double> norms_;                // scratch: inverse norms, views > kernels::cached_inverse_norms
  device_bookkeeping books_;
};

}  // namespace memloc::detail::cuda
