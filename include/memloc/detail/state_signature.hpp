#pragma once

// What must be equal on every rank before accumulator states are merged element-wise by a
// collective (MPI, NCCL): a list of named int64 fields, and the check that turns the
// collective's max and min of each field into one message every rank throws alike. Shared
// by memloc/mpi.hpp and memloc/nccl.cuh; no collective library here, so it is tested on the
// host.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../alignment_types.hpp"
#include "../classmem_types.hpp"
#include "../error.hpp"
#include "../state.hpp"
#include "../unitmem_types.hpp"
#include "../version.hpp"

namespace memloc::detail {

// (field name, value) pairs that must be equal on every rank before buffers are merged
// element-wise; a mismatch would silently mix unrelated state.
class state_signature {
 public:
  void add(std::string name, std::int64_t value) { fields_.emplace_back(std::move(name), value); }
  const std::vector<std::pair<std::string, std::int64_t>>& fields() const noexcept { return fields_; }

 private:
  std::vector<std::pair<std::string, std::int64_t>> fields_;
};

// Kept below 2^62 so that negating it (for the min) cannot overflow.
inline std::int64_t name_hash(const char* name) noexcept {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (const char* p = name; *p != '\0'; ++p) h = (h ^ static_cast<unsigned char>(*p)) * 1099511628211ull;
  return static_cast<std::int64_t>(h >> 2);
}

inline void add_common(state_signature& s, std::int64_t kind) {
  s.add("memloc version",
        std::int64_t{MEMLOC_VERSION_MAJOR} * 1000000 + std::int64_t{MEMLOC_VERSION_MINOR} * 1000 + MEMLOC_VERSION_PATCH);
  s.add("accumulator kind (1 unitmem, 2 classmem, 3 alignment)", kind);
}

// The fields unitmem_shape and classmem_shape share.
template <class Shape>
void add_layer_shape(state_signature& s, const Shape& shape) {
  s.add("shape().samples", shape.samples);
  s.add("shape().units", shape.units);
  s.add("shape().views", shape.views);
  s.add("shape().positions", shape.positions);
}

template <class Space>
void describe(state_signature& s, const unitmem_accumulator<Space>& a) {
  add_common(s, 1);
  add_layer_shape(s, a.shape());
  s.add("options().rest", static_cast<std::int64_t>(a.options().rest));
  s.add("options().transform", static_cast<std::int64_t>(a.options().transform));
  s.add("storage()", static_cast<std::int64_t>(a.storage()));
}

template <class Space>
void describe(state_signature& s, const classmem_accumulator<Space>& a) {
  add_common(s, 2);
  add_layer_shape(s, a.shape());
  s.add("shape().classes", a.shape().classes);
  s.add("options().transform", static_cast<std::int64_t>(a.options().transform));
}

template <class Space>
void describe(state_signature& s, const alignment_accumulator<Space>& a) {
  add_common(s, 3);
  s.add("shape().samples", a.shape().samples);
  s.add("shape().views", a.shape().views);
  s.add("shape().features", a.shape().features);
  s.add("options().distance", static_cast<std::int64_t>(a.options().distance));
  s.add("options().pairs", static_cast<std::int64_t>(a.options().pairs));
}

inline void describe_buffers(state_signature& s, const std::vector<state_buffer>& buffers) {
  s.add("state_buffers().size()", static_cast<std::int64_t>(buffers.size()));
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    const std::string prefix = "state_buffers()[" + std::to_string(i) + "].";
    s.add(prefix + "name", name_hash(buffers[i].name));
    s.add(prefix + "element", static_cast<std::int64_t>(buffers[i].element));
    s.add(prefix + "reduction", static_cast<std::int64_t>(buffers[i].reduction));
    s.add(prefix + "count", static_cast<std::int64_t>(buffers[i].count));
  }
}

template <class Accumulator>
state_signature state_signature_of(const Accumulator& acc, const std::vector<state_buffer>& buffers) {
  state_signature s;
  describe(s, acc);
  describe_buffers(s, buffers);
  return s;
}

// The input of the second MAX collective once the ranks' largest field count max_n is
// known: every field, then every field negated (absent fields read as 0).
inline std::vector<std::int64_t> signature_max_input(const state_signature& s, std::size_t max_n) {
  std::vector<std::int64_t> values(2 * max_n, 0);
  for (std::size_t i = 0; i < s.fields().size(); ++i) {
    values[i] = s.fields()[i].second;
    values[max_n + i] = -s.fields()[i].second;
  }
  return values;
}

// `values` holds, for max_n fields, every field's maximum over the ranks and then the
// negated minimum (one MAX collective gives both); `lengths_differ` says the ranks' field
// counts differed. Throws, on every rank alike, naming the first field that differs.
inline void check_state_signature(const char* function, const state_signature& s, const std::vector<std::int64_t>& values,
                                  std::size_t max_n, bool lengths_differ) {
  const auto& fields = s.fields();
  const std::size_t n = fields.size();
  for (std::size_t i = 0; i < max_n; ++i) {
    const std::int64_t hi = values[i], lo = -values[max_n + i];
    if (hi != lo) {
      const std::string field = i < n ? fields[i].first : "signature length";
      throw logic_error(std::string(function) + ": " + field + " must be equal on every rank, got values from " +
                        std::to_string(lo) + " to " + std::to_string(hi) + "; nothing was merged");
    }
  }
  if (lengths_differ) {
    throw logic_error(std::string(function) + ": accumulators must be of the same kind on every rank; nothing was merged");
  }
}

}  // namespace memloc::detail
