#pragma once

// Views over the buffer layouts encoders actually produce. Every helper takes the logical
// sizes in one order (samples, views, ...) whatever the memory order, so switching a
// batch from sample-major to view-major changes the helper's name and nothing else.

#include "view.hpp"

namespace memloc {

// NCHW batch of samples*views images where the views of one sample are adjacent:
// memory order [samples][views][channels][height*width].
template <class Space = host_space, class T>
constexpr activations_view<T, Space> nchw_sample_major(T* data, index_t samples, index_t views, index_t channels,
                                                       index_t height, index_t width) noexcept {
  const index_t positions = height * width;
  return activations_view<T, Space>(data, {samples, views, channels, positions},
                                    {views * channels * positions, channels * positions, positions, 1});
}

// NCHW batch built as [view 0 of every sample; view 1 of every sample; ...]:
// memory order [views][samples][channels][height*width].
template <class Space = host_space, class T>
constexpr activations_view<T, Space> nchw_view_major(T* data, index_t samples, index_t views, index_t channels,
                                                     index_t height, index_t width) noexcept {
  const index_t positions = height * width;
  return activations_view<T, Space>(data, {samples, views, channels, positions},
                                    {channels * positions, samples * channels * positions, positions, 1});
}

// Channels-last maps (NHWC) and transformer tokens ([batch, tokens, channels]) with the
// views of one sample adjacent: memory order [samples][views][positions][units].
template <class Space = host_space, class T>
constexpr activations_view<T, Space> token_major(T* data, index_t samples, index_t views, index_t positions,
                                                 index_t units) noexcept {
  return activations_view<T, Space>(data, {samples, views, units, positions},
                                    {views * positions * units, positions * units, 1, units});
}

// Token-major with view-major batches: memory order [views][samples][positions][units].
template <class Space = host_space, class T>
constexpr activations_view<T, Space> token_major_view_major(T* data, index_t samples, index_t views,
                                                            index_t positions, index_t units) noexcept {
  return activations_view<T, Space>(data, {samples, views, units, positions},
                                    {positions * units, samples * positions * units, 1, units});
}

// A fully connected layer's outputs, memory order [samples][views][units]; one position.
template <class Space = host_space, class T>
constexpr activations_view<T, Space> dense_sample_major(T* data, index_t samples, index_t views,
                                                        index_t units) noexcept {
  return activations_view<T, Space>(data, {samples, views, units, 1}, {views * units, units, 1, 1});
}

// Representations [samples][views][features] (a flattened C*H*W map or token sequence).
template <class Space = host_space, class T>
constexpr representations_view<T, Space> representations_sample_major(T* data, index_t samples, index_t views,
                                                                      index_t features) noexcept {
  return representations_view<T, Space>(data, {samples, views, features}, {views * features, features, 1});
}

// Representations of a view-major batch: memory order [views][samples][features].
template <class Space = host_space, class T>
constexpr representations_view<T, Space> representations_view_major(T* data, index_t samples, index_t views,
                                                                    index_t features) noexcept {
  return representations_view<T, Space>(data, {samples, views, features}, {features, samples * features, 1});
}

}  // namespace memloc
