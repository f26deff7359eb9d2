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
