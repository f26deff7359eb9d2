#pragma once

// The UnitMem accumulators of both backends hold their state as a variant of two classes,
// one per storage (per_unit, per_sample); these helpers build and pair them, so the host
// and CUDA accumulators dispatch the same way and neither tests a flag in every method.

#include <type_traits>
#include <utility>
#include <variant>

#include "../options.hpp"

namespace memloc::detail {

// The state of `storage` (resolved: per_unit or per_sample), built in place from args,
// which both state classes of a backend take alike.
template <class PerUnit, class PerSample, class... Args>
std::variant<PerUnit, PerSample> make_unitmem_state(unitmem_storage storage, Args&&... args) {
  if (storage == unitmem_storage::per_unit) {
    return std::variant<PerUnit, PerSample>(std::in_place_index<0>, std::forward<Args>(args)...);
  }
  return std::variant<PerUnit, PerSample>(std::in_place_index<1>, std::forward<Args>(args)...);
}

// f(mine, theirs) with other's state of the same class as mine; merge's checks have
// already required the same storage.
template <class Variant, class F>
decltype(auto) visit_same_storage(Variant& mine, const Variant& other, F&& f) {
  return std::visit([&](auto& s) -> decltype(auto) { return f(s, std::get<std::decay_t<decltype(s)>>(other)); }, mine);
}

}  // namespace memloc::detail
