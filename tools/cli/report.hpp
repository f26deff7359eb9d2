#pragma once

// The command's reports on nlohmann::json: written whole or not at all (atomic_file), members
// in the order the command adds them, doubles in the shortest text that reads back to the
// same double, NaN and infinities as null (JSON has no such numbers; the report's counts say
// how many NaN units there were). Read back by `stats` and `prune` as FILE.json:PATH, where
// PATH walks objects by key and arrays of objects by their "name" member or by index:
// "conv3.json:unitmem", "layers.json:points/conv2/sslmem".

#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "atomic_file.hpp"

namespace memloc::cli {

using report = nlohmann::ordered_json;

class json_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The shortest text that reads back to the same double, for CSV files and the terminal;
// "nan", "inf" and "-inf" for the values JSON cannot hold (pandas and NumPy read these).
inline std::string shortest(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, x);
  return std::string(buffer, result.ptr);
}

// The report as text: two-space indents; bytes that are not UTF-8 (a point named in another
// encoding) become U+FFFD rather than failing the run after all the work is done.
inline std::string to_text(const report& r) {
  return r.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

inline void write_report(const std::string& path, const report& r) {
  atomic_file file(path);
  file.stream() << to_text(r);
  file.commit();
}

inline nlohmann::json read_json(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw json_error(file + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw json_error(file + ": " + e.what());
  }
}

// The array at `path` in `file`, which should hold `what`.
inline const nlohmann::json& json_array_at(const nlohmann::json& root, const std::string& file, const std::string& path,
                                           const char* what) {
  const nlohmann::json* at = &root;
  std::string walked;
  for (std::size_t start = 0;;) {
    const std::size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    walked += (walked.empty() ? "" : "/") + part;
    const nlohmann::json* next = nullptr;
    if (at->is_object()) {
      const auto it = at->find(part);
      if (it != at->end()) next = &*it;
    } else if (at->is_array()) {
      for (const auto& item : *at) {
        const auto name = item.is_object() ? item.find("name") : item.end();
        if (item.is_object() && name != item.end() && name->is_string() && name->get_ref<const std::string&>() == part) next = &item;
      }
      if (!next && !part.empty() && part.find_first_not_of("0123456789") == std::string::npos && part.size() < 19) {
        const auto index = std::stoull(part);
        if (index < at->size()) next = &(*at)[index];
      }
    }
    if (!next) throw json_error(file + ": no member \"" + walked + "\"");
    at = next;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (!at->is_array()) throw json_error(file + ": \"" + path + "\" is not an array of " + what);
  return *at;
}

// Numbers at FILE.json:PATH; null reads as NaN, as the reports write it.
inline std::vector<double> json_numbers(const std::string& file, const std::string& path) {
  const nlohmann::json root = read_json(file);
  std::vector<double> values;
  for (const auto& item : json_array_at(root, file, path, "numbers")) {
    if (item.is_number()) {
      values.push_back(item.get<double>());
    } else if (item.is_null()) {
      values.push_back(std::numeric_limits<double>::quiet_NaN());
    } else {
      throw json_error(file + ": \"" + path + "\" holds something other than numbers");
    }
  }
  return values;
}

// Non-negative integers at FILE.json:PATH (sample ids), read as integers: every int64 id
// survives, where a double would round those above 2^53.
inline std::vector<std::int64_t> json_ids(const std::string& file, const std::string& path) {
  const nlohmann::json root = read_json(file);
  std::vector<std::int64_t> values;
  for (const auto& item : json_array_at(root, file, path, "sample ids")) {
    if (item.is_number_unsigned() && item.get<std::uint64_t>() <= std::uint64_t{std::numeric_limits<std::int64_t>::max()}) {
      values.push_back(item.get<std::int64_t>());
    } else {
      throw json_error(file + ": \"" + path + "\" must hold sample ids (integers >= 0), got " + item.dump());
    }
  }
  return values;
}

}  // namespace memloc::cli
