#pragma once

// Argument checks of the UnitMem and ClassMem accumulators that read no data, shared by the
// host and CUDA backends so that both accept and reject exactly the same arguments with the
// same messages.

#include "../classmem_types.hpp"
#include "../options.hpp"
#include "../unitmem_types.hpp"
#include "validate.hpp"

namespace memloc::detail {

// A host accumulator's batch of activations, read-only, after the checks every update makes
// of it; check_shape(acts) adds the metric's own.
template <class T, class Space, class CheckShape>
activations_view<const T, Space> checked_host_batch(const char* fn, const host_exec& exec,
                                                    const activations_view<T, Space>& batch, const CheckShape& check_shape) {
  static_assert(is_supported_element_v<T>, "activations must be float, double, memloc::half or memloc::bfloat16");
  static_assert(host_accessible_v<Space>, "host_exec needs host or managed memory");
  check_exec(fn, exec);
  const activations_view<const T, Space> acts = batch;
  check_shape(acts);
  return acts;
}

// Extents of a batch; per_sample storage takes any number of views per batch up to all.
template <class View>
void check_unitmem_batch(const char* fn, const unitmem_shape& shape, unitmem_storage storage, const View& acts) {
  check_view(fn, "batch", acts);
  check_extent(fn, "batch", 2, "units", shape.units, acts.extent(2));
  check_extent(fn, "batch", 3, "positions", shape.positions, acts.extent(3));
  if (storage == unitmem_storage::per_unit) {
    check_extent(fn, "batch", 1, "views: per_unit storage needs every view of a sample in its batch", shape.views,
                 acts.extent(1));
  } else if (acts.extent(1) < 1 || acts.extent(1) > shape.views) {
    fail(fn, "batch extent(1) (views) must be in [1, ", shape.views, "], got ", acts.extent(1));
  }
}

template <class Accumulator>
void check_unitmem_mergeable(const Accumulator& mine, const Accumulator& other) {
  constexpr const char* fn = "memloc::unitmem_accumulator::merge";
  check_not_self(fn, &mine, &other);
  check_same(fn, "shape().samples", mine.shape().samples, other.shape().samples);
  check_same(fn, "shape().units", mine.shape().units, other.shape().units);
  check_same(fn, "shape().views", mine.shape().views, other.shape().views);
  check_same(fn, "shape().positions", mine.shape().positions, other.shape().positions);
  check_same(fn, "options().rest", mine.options().rest, other.options().rest);
  check_same(fn, "options().transform", mine.options().transform, other.options().transform);
  check_same(fn, "storage()", mine.storage(), other.storage());
}

template <class Space>
void check_unitmem_outputs(const char* fn, const unitmem_outputs<Space>& out, index_t units) {
  check_unit_output(fn, "out.unitmem", out.unitmem, units, true);
  check_unit_output(fn, "out.mu_max", out.mu_max, units, false);
  check_unit_output(fn, "out.argmax", out.argmax, units, false);
  check_unit_output(fn, "out.mu_rest", out.mu_rest, units, false);
  check_outputs_disjoint(fn, {range_of("out.unitmem", out.unitmem), range_of("out.mu_max", out.mu_max),
                              range_of("out.argmax", out.argmax), range_of("out.mu_rest", out.mu_rest)});
}

// The shape of a one-shot UnitMem over `activations` (sample i is id i), after the checks
// that name the activations rather than the accumulator built from them.
template <class View>
unitmem_shape one_shot_unitmem_shape(const View& activations) {
  check_minimum_extents("memloc::unitmem", "activations", activations, {2, 1, 1, 1}, {"samples", "views", "units", "positions"});
  return unitmem_shape{activations.extent(0), activations.extent(2), activations.extent(1), activations.extent(3)};
}

template <class View>
classmem_shape one_shot_classmem_shape(const View& activations, index_t classes) {
  constexpr const char* fn = "memloc::classmem";
  check_minimum_extents(fn, "activations", activations, {1, 1, 1, 1}, {"samples", "views", "units", "positions"});
  check_at_least(fn, "classes", 2, classes);
  return classmem_shape{activations.extent(0), activations.extent(2), activations.extent(1), activations.extent(3), classes};
}

inline void require_two_samples(const char* fn, index_t samples) {
  if (samples < 2) fail(fn, "folded samples must be >= 2 (mu_rest averages the other samples), got ", samples);
}

template <class View>
void check_classmem_batch(const char* fn, const classmem_shape& shape, const View& acts) {
  check_view(fn, "batch", acts);
  check_extent(fn, "batch", 1, "views", shape.views, acts.extent(1));
  check_extent(fn, "batch", 2, "units", shape.units, acts.extent(2));
  check_extent(fn, "batch", 3, "positions", shape.positions, acts.extent(3));
}

template <class Accumulator>
void check_classmem_mergeable(const Accumulator& mine, const Accumulator& other) {
  constexpr const char* fn = "memloc::classmem_accumulator::merge";
  check_not_self(fn, &mine, &other);
  check_same(fn, "shape().samples", mine.shape().samples, other.shape().samples);
  check_same(fn, "shape().units", mine.shape().units, other.shape().units);
  check_same(fn, "shape().views", mine.shape().views, other.shape().views);
  check_same(fn, "shape().positions", mine.shape().positions, other.shape().positions);
  check_same(fn, "shape().classes", mine.shape().classes, other.shape().classes);
  check_same(fn, "options().transform", mine.options().transform, other.options().transform);
}

template <class Space>
void check_classmem_outputs(const char* fn, const classmem_outputs<Space>& out, index_t units) {
  check_unit_output(fn, "out.classmem", out.classmem, units, true);
  check_unit_output(fn, "out.mu_max", out.mu_max, units, false);
  check_unit_output(fn, "out.max_class", out.max_class, units, false);
  check_unit_output(fn, "out.mu_rest", out.mu_rest, units, false);
  check_outputs_disjoint(fn, {range_of("out.classmem", out.classmem), range_of("out.mu_max", out.mu_max),
                              range_of("out.max_class", out.max_class), range_of("out.mu_rest", out.mu_rest)});
}

inline void require_two_classes(const char* fn, index_t classes_with_samples) {
  if (classes_with_samples < 2) {
    fail(fn, "classes with samples must be >= 2 (the rest averages the other classes), got ", classes_with_samples);
  }
}

}  // namespace memloc::detail
