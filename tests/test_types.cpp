// Element types, views, layouts, packed keys and the version.

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include <memloc/memloc.hpp>

#include "test_support.hpp"

TEST_CASE("version: the header matches project(VERSION)") {
  CHECK(std::string(memloc::version_string()) == MEMLOC_PROJECT_VERSION);
  CHECK(std::string(memloc::version_string()) ==
        std::to_string(MEMLOC_VERSION_MAJOR) + "." + std::to_string(MEMLOC_VERSION_MINOR) + "." +
            std::to_string(MEMLOC_VERSION_PATCH));
}

TEST_CASE("half: every finite value round-trips through float and rounds to nearest even") {
  for (std::uint32_t bits = 0; bits < 0x10000u; ++bits) {
    const memloc::half h{static_cast<std::uint16_t>(bits)};
    const float f = memloc::to_float(h);
    const bool is_nan = (bits & 0x7c00u) == 0x7c00u && (bits & 0x3ffu) != 0;
    if (is_nan) {
      CHECK(std::isnan(f));
      CHECK(std::isnan(memloc::to_float(memloc::to_half(f))));
      continue;
    }
    INFO("bits ", bits);
    REQUIRE(memloc::to_half(f).bits == bits);
  }
  // Hand-checked values: 1, the largest half, the smallest subnormal, and halfway cases.
  CHECK(memloc::to_float(memloc::half{0x3c00}) == 1.0f);
  CHECK(memloc::to_float(memloc::half{0x7bff}) == 65504.0f);
  CHECK(memloc::to_float(memloc::half{0x0001}) == std::ldexp(1.0f, -24));
  CHECK(memloc::to_half(1.0f + std::ldexp(1.0f, -11)).bits == 0x3c00);  // tie -> even (down)
  CHECK(memloc::to_half(1.0f + 3 * std::ldexp(1.0f, -11)).bits == 0x3c02);  // tie -> even (up)
  CHECK(memloc::to_half(70000.0f).bits == 0x7c00);  // overflow -> inf
  CHECK(memloc::to_half(std::ldexp(1.0f, -26)).bits == 0x0000);  // below half the smallest subnormal
  CHECK(memloc::to_half(-2.0f).bits == 0xc000);
}

TEST_CASE("bfloat16: conversion keeps the top 16 bits, rounding to nearest even") {
  CHECK(memloc::to_float(memloc::bfloat16{0x3f80}) == 1.0f);
  CHECK(memloc::to_bfloat16(1.0f).bits == 0x3f80);
  CHECK(memloc::to_bfloat16(1.0f + std::ldexp(1.0f, -8)).bits == 0x3f80);      // tie -> even
  CHECK(memloc::to_bfloat16(1.0f + 3 * std::ldexp(1.0f, -8)).bits == 0x3f82);  // tie -> even (up)
  CHECK(memloc::to_bfloat16(-3.5f).bits == 0xc060);
  CHECK(std::isnan(memloc::to_float(memloc::to_bfloat16(std::numeric_limits<float>::quiet_NaN()))));
  for (std::uint32_t bits = 0; bits < 0x10000u; bits += 7) {
    const memloc::bfloat16 b{static_cast<std::uint16_t>(bits)};
    const float f = memloc::to_float(b);
    if (!std::isnan(f)) CHECK(memloc::to_bfloat16(f).bits == bits);
  }
}

TEST_CASE("packed max keys order by value, then by smaller id, and decode exactly") {
  using memloc::detail::pack_max_key;
  const float values[] = {-std::numeric_limits<float>::infinity(), -2.5f, -0.0f, 0.0f, 1e-30f, 3.0f,
                          std::numeric_limits<float>::infinity()};
  for (std::size_t i = 0; i + 1 < std::size(values); ++i) {
    CHECK(pack_max_key(values[i], 5) <= pack_max_key(values[i + 1], 5));
  }
  CHECK(pack_max_key(1.0f, 3) > pack_max_key(1.0f, 4));  // equal values: the smaller id wins
  CHECK(pack_max_key(1.0f, 4294967294) > memloc::detail::empty_max_key);
  CHECK(pack_max_key(-std::numeric_limits<float>::infinity(), 4294967294) > memloc::detail::empty_max_key);
  for (const float v : {-7.25f, 0.0f, 12345.5f}) {
    CHECK(memloc::detail::key_value(pack_max_key(v, 17)) == v);
    CHECK(memloc::detail::key_id(pack_max_key(v, 17)) == 17);
  }
  CHECK(std::isnan(memloc::detail::key_value(pack_max_key(std::numeric_limits<float>::quiet_NaN(), 1))));
}

TEST_CASE("layouts: each helper maps logical (sample, view, unit, position) to its memory order") {
  std::vector<int> buffer(2 * 3 * 4 * 5);
  const memloc::index_t N = 2, V = 3, C = 4, H = 1, W = 5;
  auto sample_major = memloc::nchw_sample_major(buffer.data(), N, V, C, H, W);
  CHECK(sample_major.offset(1, 2, 3, 4) == ((1 * V + 2) * C + 3) * W + 4);
  auto view_major = memloc::nchw_view_major(buffer.data(), N, V, C, H, W);
  CHECK(view_major.offset(1, 2, 3, 4) == ((2 * N + 1) * C + 3) * W + 4);
  auto tokens = memloc::token_major(buffer.data(), N, V, W, C);
  CHECK(tokens.offset(1, 2, 3, 4) == ((1 * V + 2) * W + 4) * C + 3);
  auto tokens_view_major = memloc::token_major_view_major(buffer.data(), N, V, W, C);
  CHECK(tokens_view_major.offset(1, 2, 3, 4) == ((2 * N + 1) * W + 4) * C + 3);
  auto dense = memloc::dense_sample_major(buffer.data(), N, V, C * W);
  CHECK(dense.offset(1, 2, 7, 0) == (1 * V + 2) * C * W + 7);
  auto reps = memloc::representations_view_major(buffer.data(), N, V, C);
  CHECK(reps.offset(1, 2, 3) == (2 * N + 1) * C + 3);
  CHECK(memloc::representations_sample_major(buffer.data(), N, V, C).offset(1, 2, 3) == (1 * V + 2) * C + 3);
  // Views convert to views of const, as pointers do.
  const memloc::activations_view<const int> read_only = sample_major;
  CHECK(read_only.data_handle() == buffer.data());
  CHECK(read_only.size() == N * V * C * W);
}

TEST_CASE("output overlap: exact for equal strides, conservative otherwise") {
  using memloc::detail::output_range;
  using memloc::detail::outputs_overlap;
  double table[12] = {};
  const output_range column0{"a", table, 6, 2, sizeof(double)};
  const output_range column1{"b", table + 1, 6, 2, sizeof(double)};
  const output_range column0_next_row{"c", table + 2, 5, 2, sizeof(double)};
  const output_range first_half{"d", table, 6, 1, sizeof(double)};
  const output_range second_half{"e", table + 6, 6, 1, sizeof(double)};
  CHECK_FALSE(outputs_overlap(column0, column1));  // interleaved columns
  CHECK(outputs_overlap(column0, column0_next_row));  // same column, shifted by a row
  CHECK(outputs_overlap(column0, column0));
  CHECK_FALSE(outputs_overlap(first_half, second_half));
  CHECK(outputs_overlap(first_half, column1));  // different strides with overlapping spans
  // A column whose elements straddle another's (misaligned by half an element).
  const output_range straddling{"f", reinterpret_cast<char*>(table) + 4, 5, 2, sizeof(double)};
  CHECK(outputs_overlap(column0, straddling));
}
