// The memloc command's layers below main(): reports that read back exactly and appear whole or
// not at all, FILE.json:PATH selectors, option words, and the streaming folds' data path.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <numeric>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <memloc/memloc.hpp>

#include "cli/atomic_file.hpp"
#include "cli/folds.hpp"
#include "cli/layer_scores.hpp"
#include "cli/report.hpp"

namespace {

using memloc::index_t;
using memloc::cli::report;

TEST_CASE("report: nested objects and arrays, escapes, exact doubles, NaN and infinities as null, members in order") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  report r;
  r["name"] = "layer \"3\"\n\tconv";
  r["samples"] = std::int64_t{50000};
  r["clamp"] = true;
  r["unitmem"] = std::vector<double>{0.1, 1.0 / 3.0, nan, -2.5e-310};
  r["points"] = report::array({{{"delta", std::numeric_limits<double>::infinity()}}});
  r["empty"] = report::array();
  r["bytes"] = std::string("a\xff");
  const std::string text = memloc::cli::to_text(r);
  CHECK(text.find("0.3333333333333333") != std::string::npos);
  CHECK(text.find("-2.5e-310") != std::string::npos);
  CHECK(text.find("\"layer \\\"3\\\"\\n\\tconv\"") != std::string::npos);
  CHECK(text.find("\"delta\": null") != std::string::npos);
  CHECK(text.find("\"name\"") < text.find("\"samples\""));
  CHECK(text.find("\"samples\"") < text.find("\"clamp\""));
  CHECK(text.back() == '\n');
  const auto back = nlohmann::json::parse(text);
  CHECK(back["unitmem"][1].get<double>() == 1.0 / 3.0);
  CHECK(back["unitmem"][3].get<double>() == -2.5e-310);
  CHECK(back["unitmem"][2].is_null());
  CHECK(back["bytes"].get<std::string>() == "a\xef\xbf\xbd");  // not UTF-8: U+FFFD, not an exception after the work
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
  CHECK_THROWS_AS(memloc::cli::write_report("/nonexistent-directory/x.json", report::object()), std::runtime_error);
}

std::string write_temp(const std::string& name, const std::string& text) {
  std::ofstream(name) << text;
  return name;
}

TEST_CASE("json_numbers: numbers at a path, null as NaN, arrays of named objects") {
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

TEST_CASE("json_ids: sample ids read as integers, every int64 exact; anything else is refused") {
  // 2^53 + 1 has no double: read through double (as scores are) it would come back as 2^53.
  const auto file = write_temp("memloc_json_ids_test.json",
                               "{\"argmax\": [0, 9007199254740993, 9223372036854775807], \"negative\": [3, -1],"
                               " \"fraction\": [1.5], \"nulls\": [null], \"huge\": [9223372036854775808]}");
  CHECK(memloc::cli::json_ids(file, "argmax") ==
        std::vector<std::int64_t>{0, 9007199254740993, std::numeric_limits<std::int64_t>::max()});
  CHECK(memloc::cli::json_numbers(file, "argmax")[1] == 9007199254740992.0);
  for (const char* bad : {"negative", "fraction", "nulls", "huge"}) {
    INFO(bad);
    CHECK_THROWS_WITH_AS(memloc::cli::json_ids(file, bad), doctest::Contains("must hold sample ids (integers >= 0)"),
                         memloc::cli::json_error);
  }
  std::remove(file.c_str());
}

TEST_CASE("json_numbers: malformed and hostile JSON is rejected with its file named") {
  for (const std::string& bad : std::vector<std::string>{"{", "[1, 2", "{\"a\" 1}", "{\"a\": 1,}", "[1,,2]", "tru", "\"open", "{} x", "[01x]",
                                std::string(100000, '[') + std::string(100000, ']')}) {
    INFO(bad.substr(0, 20));
    const auto file = write_temp("memloc_json_bad_test.json", bad);
    CHECK_THROWS_WITH_AS(memloc::cli::json_numbers(file, "a"), doctest::Contains("memloc_json_bad_test.json"),
                         memloc::cli::json_error);
    std::remove(file.c_str());
  }
  CHECK_THROWS_WITH_AS(memloc::cli::json_numbers("/nonexistent/x.json", "a"), doctest::Contains("cannot open"),
                       memloc::cli::json_error);
}

// Every option enum: each printed word parses to the value that prints it, each accepted
// spelling parses to a value, and nothing else parses.
template <class Enum>
void check_spellings() {
  for (const auto& s : memloc::enum_words<Enum>::words) {
    INFO(s.word);
    const auto parsed = memloc::from_string<Enum>(s.word);
    REQUIRE(parsed);
    CHECK(*parsed == s.value);
    CHECK(memloc::from_string<Enum>(memloc::to_string(s.value)) == parsed);
  }
  CHECK_FALSE(memloc::from_string<Enum>("no-such-word"));
  CHECK_FALSE(memloc::from_string<Enum>(""));
}

TEST_CASE("spellings: one table per option enum, read both ways") {
  check_spellings<memloc::distance_kind>();
  check_spellings<memloc::pair_mode>();
  check_spellings<memloc::sslmem_normalization>();
  check_spellings<memloc::subset_kind>();
  check_spellings<memloc::rest_reduction>();
  check_spellings<memloc::activation_transform>();
  check_spellings<memloc::unitmem_storage>();
  check_spellings<memloc::top_k_kind>();
  check_spellings<memloc::rank_direction>();
  check_spellings<memloc::alternative>();
  check_spellings<memloc::kendall_method>();
  check_spellings<memloc::t_test_kind>();
  check_spellings<memloc::prune_selection>();
  check_spellings<memloc::prune_scope>();
  CHECK(std::string(memloc::to_string(memloc::pair_mode::all_pairs)) == "all_pairs");
  CHECK(memloc::from_string<memloc::pair_mode>("all") == memloc::pair_mode::all_pairs);
  CHECK(memloc::from_string<memloc::alternative>("two-sided") == memloc::alternative::two_sided);
  CHECK(memloc::printed_words<memloc::pair_mode>() == "all_pairs|original_vs_views");
  CHECK(memloc::printed_words<memloc::alternative>() == "two_sided|greater|less");
  CHECK(std::string(memloc::to_string(static_cast<memloc::rest_reduction>(7))) == "(not a value of this option)");
}

// A .npy file of `shape` whose element k holds values[k], stored as `descr`.
template <class Stored>
std::string write_npy(const std::string& name, const char* descr, const std::vector<index_t>& shape,
                      const std::vector<Stored>& values) {
  std::string header = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (";
  for (const index_t d : shape) header += std::to_string(d) + ", ";
  header += "), }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::ofstream out(name, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const auto length = static_cast<std::uint16_t>(header.size());
  out.put(static_cast<char>(length & 0xff));
  out.put(static_cast<char>(length >> 8));
  out << header;
  out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(Stored)));
  return name;
}

// host_memory that records what each chunk handed to the backend was: its element size and
// how many elements, so a test sees the data path and not only the results.
struct recording_memory : memloc::cli::host_memory {
  explicit recording_memory(const memloc::host_exec& on) : host_memory{on} {}

  std::vector<std::pair<std::size_t, index_t>> staged;

  template <class U>
  const U* stage(const U* host, index_t n, int) {
    staged.emplace_back(sizeof(U), n);
    return host;
  }
};

TEST_CASE("folds: 16-bit files go to the backend as stored, in the chunks asked for, with float's results") {
  const index_t samples = 37, views = 3, units = 5, positions = 7;
  std::vector<float> values(static_cast<std::size_t>(samples * views * units * positions));
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>((i * 7919 % 1000) / 250.0 - 1.0);
  std::vector<memloc::half> halves;
  std::vector<memloc::bfloat16> bhalves;
  std::vector<float> rounded_half, rounded_bf16;
  for (const float v : values) {
    halves.push_back(memloc::to_half(v));
    rounded_half.push_back(memloc::to_float(halves.back()));
    bhalves.push_back(memloc::to_bfloat16(v));
    rounded_bf16.push_back(memloc::to_float(bhalves.back()));
  }
  const std::vector<index_t> shape{samples, views, units, positions};
  const auto half_file = write_npy("memloc_fold_f2.npy", "<f2", shape, halves);
  const auto bf16_file = write_npy("memloc_fold_bf16.npy", "<u2", shape, bhalves);
  const auto float_half = write_npy("memloc_fold_f4_half.npy", "<f4", shape, rounded_half);
  const auto float_bf16 = write_npy("memloc_fold_f4_bf16.npy", "<f4", shape, rounded_bf16);
  // Removed however the test ends, so a failure leaves no files behind.
  struct removed_at_exit {
    std::vector<std::string> files;
    ~removed_at_exit() {
      for (const auto& file : files) std::remove(file.c_str());
    }
  } const cleanup{{half_file, bf16_file, float_half, float_bf16}};
  memloc::npy::open_options bf16;
  bf16.uint16_as_bfloat16 = true;

  const memloc::host_exec exec{};
  memloc::cli::sample_info samples_info;
  samples_info.ids = memloc::detail::sequential_ids(samples);
  samples_info.id_space = samples;
  for (const auto& [stored, as_float, options, element_bytes] :
       {std::tuple{half_file, float_half, memloc::npy::open_options{}, std::size_t{2}},
        std::tuple{bf16_file, float_bf16, bf16, std::size_t{2}}}) {
    INFO(stored);
    const memloc::npy::npy_stream acts({stored}, options);
    const auto layout = memloc::cli::parse_layout("nvus", acts.shape());
    recording_memory recorded(exec);
    const auto r = memloc::cli::fold_unitmem_file(acts, layout, recorded, memloc::unitmem_options{}, samples_info, 5);
    // 37 rows in chunks of 5: seven of 5 rows and one of 2, each of 2-byte elements.
    REQUIRE(recorded.staged.size() == 8);
    for (std::size_t c = 0; c < recorded.staged.size(); ++c) {
      CHECK(recorded.staged[c].first == element_bytes);
      CHECK(recorded.staged[c].second == (c < 7 ? 5 : 2) * views * units * positions);
    }
    const memloc::npy::npy_stream widened({as_float});
    recording_memory float_memory(exec);
    const auto expected = memloc::cli::fold_unitmem_file(widened, layout, float_memory, memloc::unitmem_options{}, samples_info, 0);
    CHECK(float_memory.staged.front().first == sizeof(float));
    CHECK(float_memory.staged.size() == 1);
    CHECK(r.unitmem == expected.unitmem);
    CHECK(r.argmax == expected.argmax);
  }

  // Alignment: f and g of one 16-bit type go as stored; mixed types meet as float.
  const memloc::npy::npy_stream f({half_file}), g({half_file}), g_float({float_half});
  memloc::cli::point_result point, mixed;
  recording_memory recorded(exec);
  memloc::cli::fold_alignment_files(f, g, recorded, memloc::alignment_options{}, point, 10);
  REQUIRE(recorded.staged.size() == 8);  // 4 chunks of f and g
  CHECK(recorded.staged.front().first == 2);
  recording_memory widened(exec);
  memloc::cli::fold_alignment_files(f, g_float, widened, memloc::alignment_options{}, mixed, 0);
  CHECK(widened.staged.front().first == sizeof(float));
  CHECK(point.ssl_f == mixed.ssl_f);
}

TEST_CASE("layermem in the command: each point scored once, the report's scores are LayerMem's") {
  std::vector<memloc::cli::point_result> points(3);
  for (std::size_t p = 0; p < points.size(); ++p) {
    points[p].name = "point" + std::to_string(p);
    for (int i = 0; i < 20; ++i) {
      points[p].ssl_f.push_back(0.5 + 0.1 * ((i * 7 + static_cast<int>(p)) % 11));
      points[p].ssl_g.push_back(0.5 + 0.1 * ((i * 3 + 2 * static_cast<int>(p)) % 13));
    }
  }
  memloc::layermem_options options;
  options.subset = {memloc::subset_kind::top, 5};
  const long before = memloc::detail::test_hooks::sslmem_score_sets.load();
  const auto r = memloc::cli::score_points(memloc::host_exec{}, points, options);
  CHECK(memloc::detail::test_hooks::sslmem_score_sets.load() - before == 3);
  REQUIRE(r.members.size() == 5);
  for (std::size_t p = 0; p < points.size(); ++p) {
    double sum = 0.0;
    for (const auto i : r.members) sum += points[p].scores[static_cast<std::size_t>(i)];
    CHECK(r.layermem[p] == doctest::Approx(sum / 5).epsilon(1e-15));
    std::vector<double> alone(points[p].ssl_f.size());
    memloc::sslmem(memloc::host_exec{}, memloc::make_vector_view(points[p].ssl_f.data(), 20),
                   memloc::make_vector_view(points[p].ssl_g.data(), 20), memloc::make_vector_view(alone.data(), 20));
    CHECK(points[p].scores == alone);
  }
}

}  // namespace
