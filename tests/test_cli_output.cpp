// The memloc command's output layer: JSON that reads back exactly, and files that appear
// whole or not at all.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "cli/atomic_file.hpp"
#include "cli/json_writer.hpp"

namespace {

using memloc::cli::json_writer;

TEST_CASE("json_writer: nested objects and arrays, escapes, exact doubles, NaN as null") {
  std::ostringstream out;
  json_writer json(out);
  json.begin_object();
  json.member("name", "layer \"3\"\n\tconv");
  json.member("samples", std::int64_t{50000});
  json.member("clamp", true);
  json.member("unitmem", std::vector<double>{0.1, 1.0 / 3.0, std::numeric_limits<double>::quiet_NaN(), -2.5e-310});
  json.key("points");
  json.begin_array();
  json.begin_object();
  json.member("delta", std::numeric_limits<double>::infinity());
  json.end_object();
  json.end_array();
  json.key("empty");
  json.begin_array();
  json.end_array();
  json.end_object();
  CHECK(json.complete());
  const std::string text = out.str();
  CHECK(text ==
        "{\n"
        "  \"name\": \"layer \\\"3\\\"\\n\\tconv\",\n"
        "  \"samples\": 50000,\n"
        "  \"clamp\": true,\n"
        "  \"unitmem\": [0.1, 0.3333333333333333, null, -2.5e-310],\n"
        "  \"points\": [\n"
        "    {\n"
        "      \"delta\": null\n"
        "    }\n"
        "  ],\n"
        "  \"empty\": []\n"
        "}\n");
  // The shortest form reads back to the same double.
  CHECK(std::strtod("0.3333333333333333", nullptr) == 1.0 / 3.0);
}

TEST_CASE("json_writer: misuse is caught") {
  std::ostringstream out;
  json_writer json(out);
  json.begin_object();
  CHECK_THROWS_AS(json.value(1.0), std::logic_error);
  json.key("a");
  CHECK_THROWS_AS(json.key("b"), std::logic_error);
  CHECK_THROWS_AS(json.end_object(), std::logic_error);
  json.value(std::int64_t{1});
  CHECK_THROWS_AS(json.end_array(), std::logic_error);
  json.end_object();
  CHECK(json.complete());
  CHECK_THROWS_AS(json.begin_object(), std::logic_error);
}

TEST_CASE("atomic_file: nothing appears unless committed, and a commit replaces the target whole") {
  const std::string path = "memloc_atomic_file_test.json";
  std::remove(path.c_str());
  {
    memloc::cli::atomic_file file(path);
    file.stream() << "partial";
  }
  CHECK_FALSE(std::ifstream(path).good());
  {
    memloc::cli::atomic_file file(path);
    file.stream() << "whole";
    file.commit();
  }
  std::ifstream in(path);
  std::string content;
  in >> content;
  CHECK(content == "whole");
  std::remove(path.c_str());
  CHECK_THROWS_AS(memloc::cli::atomic_file("/nonexistent-directory/x.json"), std::runtime_error);
}

}  // namespace

#include "cli/json_reader.hpp"

namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  std::ofstream(name) << text;
  return name;
}

TEST_CASE("json_reader: numbers at a path, null as NaN, arrays of named objects") {
  const auto file = write_temp("memloc_json_reader_test.json",
                               "{\"unitmem\": [0.5, null, -1e-3], \"points\": [{\"name\": \"conv1\", \"sslmem\": [1, 2]},"
                               " {\"name\": \"conv2\", \"sslmem\": []}], \"flag\": true, \"s\": \"a\\\"b\"}");
  const auto u = memloc::cli::json_numbers(file, "unitmem");
  REQUIRE(u.size() == 3);
  CHECK(u[0] == 0.5);
  CHECK(std::isnan(u[1]));
  CHECK(u[2] == -1e-3);
  CHECK(memloc::cli::json_numbers(file, "points/conv1/sslmem") == std::vector<double>{1, 2});
  CHECK(memloc::cli::json_numbers(file, "points/1/sslmem").empty());
  CHECK_THROWS_WITH_AS(memloc::cli::json_numbers(file, "points/conv3/sslmem"), doctest::Contains("no member \"points/conv3\""),
                       memloc::cli::json_error);
  CHECK_THROWS_WITH_AS(memloc::cli::json_numbers(file, "flag"), doctest::Contains("is not an array of numbers"),
                       memloc::cli::json_error);
  CHECK_THROWS_WITH_AS(memloc::cli::json_numbers(file, "points"), doctest::Contains("something other than numbers"),
                       memloc::cli::json_error);
  std::remove(file.c_str());
}

TEST_CASE("json_reader: malformed and hostile JSON is rejected with a position") {
  for (const std::string& bad : std::vector<std::string>{"{", "[1, 2", "{\"a\" 1}", "{\"a\": 1,}", "[1,,2]", "tru", "\"open", "{} x", "[01x]",
                                std::string(100, '[') + std::string(100, ']')}) {
    INFO(bad);
    CHECK_THROWS_AS(memloc::cli::json_parser(bad, "bad.json").parse(), memloc::cli::json_error);
  }
  CHECK_THROWS_WITH_AS(memloc::cli::json_numbers("/nonexistent/x.json", "a"), doctest::Contains("cannot open"),
                       memloc::cli::json_error);
}

}  // namespace
