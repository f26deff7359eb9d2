#pragma once

// Test data in every element type and memory layout, backends as test parameters, and
// comparisons with documented tolerances.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <memloc/core.hpp>

#include "oracle.hpp"

namespace testing {

using memloc::index_t;

// The host backend as a test parameter. A backend provides an exec object, its memory
// space, and a way to place host data where it computes (the identity here).
// Test bodies reach memory only through the backend's arena: `place` makes a view of host
// data that the backend can read, `output<T>(n)` a buffer it writes, and `fetch` brings a
// buffer back to the host. For the host backend all three are the identity.
template <class T>
struct host_buffer {
  std::vector<T> data;
  memloc::vector_view<T> view() { return memloc::make_vector_view(data.data(), static_cast<index_t>(data.size())); }
};

struct host_arena {
  template <class T, std::size_t R>
  memloc::strided_view<T, R> place(std::vector<std::remove_const_t<T>>&, const memloc::strided_view<T, R>& v) {
    return v;
  }
  template <class T>
  host_buffer<T> output(index_t n, T fill = T{}) {
    return host_buffer<T>{std::vector<T>(static_cast<std::size_t>(n), fill)};
  }
  template <class T>
  std::vector<T> fetch(const host_buffer<T>& b) {
    return b.data;
  }
  // Raw copies between a backend's memory (state buffers) and the host.
  void read_raw(void* host, const void* backend, std::size_t bytes) { std::memcpy(host, backend, bytes); }
  void write_raw(void* backend, const void* host, std::size_t bytes) { std::memcpy(backend, host, bytes); }
};

struct host_backend {
  static constexpr const char* name = "host";
  // Ids and labels are checked at update, which then changes nothing.
  static constexpr bool checks_indices_on_device = false;
  using space = memloc::host_space;
  using arena = host_arena;
  static memloc::host_exec exec() { return memloc::host_exec{}; }
};

// ---- random data -----------------------------------------------------------------------

inline std::vector<double> random_values(std::size_t n, std::uint64_t seed, double lo = -1.0, double hi = 2.0) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) x = dist(gen);
  return v;
}

template <class T>
T store_as(double x);
template <>
inline float store_as<float>(double x) { return static_cast<float>(x); }
template <>
inline double store_as<double>(double x) { return x; }
template <>
inline memloc::half store_as<memloc::half>(double x) { return memloc::to_half(static_cast<float>(x)); }
template <>
inline memloc::bfloat16 store_as<memloc::bfloat16>(double x) { return memloc::to_bfloat16(static_cast<float>(x)); }

template <class T>
double read_back(T x) {
  return static_cast<double>(memloc::load_as<float>(x));
}
template <>
inline double read_back<double>(double x) { return x; }

template <class T>
const char* type_name();
template <>
inline const char* type_name<float>() { return "float"; }
template <>
inline const char* type_name<double>() { return "double"; }
template <>
inline const char* type_name<memloc::half>() { return "half"; }
template <>
inline const char* type_name<memloc::bfloat16>() { return "bfloat16"; }

// ---- activations in a layout ----------------------------------------------------------

enum class act_layout { nchw_sample_major, nchw_view_major, token_major, token_major_view_major, dense, padded };

inline const char* layout_name(act_layout l) {
  switch (l) {
    case act_layout::nchw_sample_major: return "nchw_sample_major";
    case act_layout::nchw_view_major: return "nchw_view_major";
    case act_layout::token_major: return "token_major";
    case act_layout::token_major_view_major: return "token_major_view_major";
    case act_layout::dense: return "dense";
    case act_layout::padded: return "padded";
  }
  return "?";
}

inline const std::vector<act_layout>& all_act_layouts() {
  static const std::vector<act_layout> all{act_layout::nchw_sample_major, act_layout::nchw_view_major,
                                           act_layout::token_major, act_layout::token_major_view_major,
                                           act_layout::padded};
  return all;
}

// Activations stored in T and a layout; `logical` holds the stored values read back, so
// the oracle sees exactly what the backend sees. Padding is NaN: reading it would show.
template <class T>
struct stored_activations {
  std::vector<T> storage;
  memloc::activations_view<T> view;
  oracle::activations logical;
};

template <class T>
stored_activations<T> store_activations(const oracle::activations& values, act_layout layout) {
  const index_t N = values.samples, V = values.views, U = values.units, S = values.positions;
  stored_activations<T> out;
  out.logical = values;
  switch (layout) {
    case act_layout::nchw_sample_major:
    case act_layout::nchw_view_major:
    case act_layout::token_major:
    case act_layout::token_major_view_major:
    case act_layout::dense:
      out.storage.assign(static_cast<std::size_t>(N * V * U * S), store_as<T>(0.0));
      break;
    case act_layout::padded:
      out.storage.assign(static_cast<std::size_t>(N * (V * (U * (2 * S + 1) + 3) + 5)),
                         store_as<T>(std::numeric_limits<double>::quiet_NaN()));
      break;
  }
  T* p = out.storage.data();
  switch (layout) {
    case act_layout::nchw_sample_major: out.view = memloc::nchw_sample_major(p, N, V, U, 1, S); break;
    case act_layout::nchw_view_major: out.view = memloc::nchw_view_major(p, N, V, U, 1, S); break;
    case act_layout::token_major: out.view = memloc::token_major(p, N, V, S, U); break;
    case act_layout::token_major_view_major: out.view = memloc::token_major_view_major(p, N, V, S, U); break;
    case act_layout::dense:
      REQUIRE(S == 1);
      out.view = memloc::dense_sample_major(p, N, V, U);
      break;
    case act_layout::padded: {
      const index_t su = 2 * S + 1, sv = U * su + 3, sn = V * sv + 5;
      out.view = memloc::activations_view<T>(p, {N, V, U, S}, {sn, sv, su, 2});
      break;
    }
  }
  for (index_t n = 0; n < N; ++n)
    for (index_t v = 0; v < V; ++v)
      for (index_t u = 0; u < U; ++u)
        for (index_t s = 0; s < S; ++s) {
          const T stored = store_as<T>(values.at(n, v, u, s));
          out.view(n, v, u, s) = stored;
          out.logical.values[static_cast<std::size_t>(((n * V + v) * U + u) * S + s)] = read_back(stored);
        }
  return out;
}

inline oracle::activations random_activations(index_t N, index_t V, index_t U, index_t S, std::uint64_t seed,
                                               double lo = -1.0, double hi = 2.0) {
  oracle::activations a{N, V, U, S, random_values(static_cast<std::size_t>(N * V * U * S), seed, lo, hi)};
  return a;
}

// Rows [first, first + count) of samples and views [v0, v0 + nv) as their own activations.
inline oracle::activations slice(const oracle::activations& a, const std::vector<index_t>& samples, index_t v0,
                                 index_t nv) {
  oracle::activations out{static_cast<index_t>(samples.size()), nv, a.units, a.positions, {}};
  for (const index_t n : samples)
    for (index_t v = v0; v < v0 + nv; ++v)
      for (index_t u = 0; u < a.units; ++u)
        for (index_t s = 0; s < a.positions; ++s) out.values.push_back(a.at(n, v, u, s));
  return out;
}

// ---- representations in a layout -------------------------------------------------------

enum class rep_layout { sample_major, view_major, strided };

inline const std::vector<rep_layout>& all_rep_layouts() {
  static const std::vector<rep_layout> all{rep_layout::sample_major, rep_layout::view_major, rep_layout::strided};
  return all;
}

inline const char* layout_name(rep_layout l) {
  return l == rep_layout::sample_major ? "sample_major" : (l == rep_layout::view_major ? "view_major" : "strided");
}

template <class T>
struct stored_representations {
  std::vector<T> storage;
  memloc::representations_view<T> view;
  oracle::representations logical;
};

template <class T>
stored_representations<T> store_representations(const oracle::representations& values, rep_layout layout) {
  const index_t N = values.samples, V = values.views, D = values.features;
  stored_representations<T> out;
  out.logical = values;
  T* p = nullptr;
  if (layout == rep_layout::strided) {
    out.storage.assign(static_cast<std::size_t>(N * V * (2 * D + 1)), store_as<T>(std::numeric_limits<double>::quiet_NaN()));
    p = out.storage.data();
    out.view = memloc::representations_view<T>(p, {N, V, D}, {V * (2 * D + 1), 2 * D + 1, 2});
  } else {
    out.storage.assign(static_cast<std::size_t>(N * V * D), store_as<T>(0.0));
    p = out.storage.data();
    out.view = layout == rep_layout::sample_major ? memloc::representations_sample_major(p, N, V, D)
                                                  : memloc::representations_view_major(p, N, V, D);
  }
  for (index_t n = 0; n < N; ++n)
    for (index_t v = 0; v < V; ++v)
      for (index_t k = 0; k < D; ++k) {
        const T stored = store_as<T>(values.at(n, v, k));
        out.view(n, v, k) = stored;
        out.logical.values[static_cast<std::size_t>((n * V + v) * D + k)] = read_back(stored);
      }
  return out;
}

inline oracle::representations random_representations(index_t N, index_t V, index_t D, std::uint64_t seed) {
  return oracle::representations{N, V, D, random_values(static_cast<std::size_t>(N * V * D), seed, -1.0, 1.0)};
}

// ---- comparisons ----------------------------------------------------------------------

// |actual - expected| <= abs_tol + rel_tol * |expected|, with NaN equal to NaN.
inline bool close(double actual, double expected, double rel_tol, double abs_tol) {
  if (std::isnan(expected) || std::isnan(actual)) return std::isnan(expected) && std::isnan(actual);
  return std::fabs(actual - expected) <= abs_tol + rel_tol * std::fabs(expected);
}

inline void check_close(const std::vector<double>& actual, const std::vector<double>& expected, double rel_tol,
                        double abs_tol, const std::string& what) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    INFO(what, "[", i, "]: actual ", actual[i], ", expected ", expected[i]);
    CHECK(close(actual[i], expected[i], rel_tol, abs_tol));
  }
}

template <class T>
std::vector<T> column(const std::vector<std::vector<T>>& rows, std::size_t c) {
  std::vector<T> out;
  for (const auto& r : rows) out.push_back(r[c]);
  return out;
}

}  // namespace testing
