#pragma once

// The constructor checks of every accumulator, one checked_shape per shape type. Host and
// CUDA constructors alike initialise their shape member with it, so both backends reject
// the same shapes and options, in the same order, with the same messages.

#include "../alignment_types.hpp"
#include "../classmem_types.hpp"
#include "../options.hpp"
#include "../unitmem_types.hpp"
#include "validate.hpp"

namespace memloc::detail {

inline unitmem_storage resolve_unitmem_storage(const unitmem_options& options) {
  constexpr const char* fn = "memloc::unitmem_accumulator";
  check_enum(fn, "options.rest", options.rest, rest_reduction::median);
  check_enum(fn, "options.transform", options.transform, activation_transform::abs);
  check_enum(fn, "options.storage", options.storage, unitmem_storage::per_sample);
  if (options.storage == unitmem_storage::per_unit && options.rest == rest_reduction::median) {
    fail(fn, "options.storage must be automatic or per_sample for the median variant, got per_unit");
  }
  if (options.storage != unitmem_storage::automatic) return options.storage;
  return options.rest == rest_reduction::median ? unitmem_storage::per_sample : unitmem_storage::per_unit;
}

// Options first: the per_sample state's size limit depends on the storage they resolve to.
inline const unitmem_shape& checked_shape(const unitmem_shape& shape, const unitmem_options& options) {
  constexpr const char* fn = "memloc::unitmem_accumulator";
  const unitmem_storage storage = resolve_unitmem_storage(options);
  check_sample_space(fn, shape.samples);
  check_positive(fn, "shape.units", shape.units);
  check_positive(fn, "shape.views", shape.views);
  check_positive(fn, "shape.positions", shape.positions);
  check_product(fn, "shape.units * shape.positions", shape.units, shape.positions, max_elements);
  check_product(fn, "shape.views * shape.positions", shape.views, shape.positions, max_elements);
  if (storage == unitmem_storage::per_sample) {
    check_product(fn, "shape.samples * shape.units (per_sample state)", shape.samples, shape.units, index_t{1} << 40);
  }
  return shape;
}

inline const classmem_shape& checked_shape(const classmem_shape& shape, const classmem_options& options) {
  constexpr const char* fn = "memloc::classmem_accumulator";
  check_sample_space(fn, shape.samples);
  check_positive(fn, "shape.units", shape.units);
  check_positive(fn, "shape.views", shape.views);
  check_positive(fn, "shape.positions", shape.positions);
  check_at_least(fn, "shape.classes", 2, shape.classes);
  check_product(fn, "shape.classes * shape.units", shape.classes, shape.units, index_t{1} << 40);
  check_product(fn, "shape.units * shape.positions", shape.units, shape.positions, max_elements);
  check_product(fn, "shape.views * shape.positions", shape.views, shape.positions, max_elements);
  check_enum(fn, "options.transform", options.transform, activation_transform::abs);
  return shape;
}

inline const alignment_shape& checked_shape(const alignment_shape& shape, const alignment_options& options) {
  constexpr const char* fn = "memloc::alignment_accumulator";
  check_sample_space(fn, shape.samples);
  check_at_least(fn, "shape.views", 2, shape.views);
  check_positive(fn, "shape.features", shape.features);
  check_product(fn, "shape.views * shape.features", shape.views, shape.features, max_elements);
  check_enum(fn, "options.distance", options.distance, distance_kind::angular);
  check_enum(fn, "options.pairs", options.pairs, pair_mode::original_vs_views);
  return shape;
}

}  // namespace memloc::detail
