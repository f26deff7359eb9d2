#pragma once

// Reads back the numbers the memloc command wrote: a small strict JSON parser (RFC 8259
// values; no comments, no trailing commas) and a path selector, so `stats` and `prune`
// take scores from a report as well as from .npy files. "FILE.json:unitmem" selects a
// top-level member; "FILE.json:points/conv2/sslmem" walks objects by key and arrays of
// objects by their "name" member (or by index). null reads as NaN, as the writer wrote it.

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace memloc::cli {

class json_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct json_value {
  enum class kind { null, boolean, number, string, array, object } type = kind::null;
  double number = 0.0;
  bool boolean = false;
  std::string text;
  std::vector<json_value> items;
  std::vector<std::pair<std::string, json_value>> members;

  const json_value* member(const std::string& key) const {
    for (const auto& [k, v] : members) {
      if (k == key) return &v;
    }
    return nullptr;
  }
};

class json_parser {
 public:
  json_parser(std::string text, std::string name) : s_(std::move(text)), name_(std::move(name)) {}

  json_value parse() {
    json_value v = value(0);
    skip();
    if (i_ != s_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw json_error(name_ + ": " + what + " at byte " + std::to_string(i_));
  }
  void skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
  }
  bool literal(const char* word) {
    const std::string w(word);
    if (s_.compare(i_, w.size(), w) != 0) return false;
    i_ += w.size();
    return true;
  }

  json_value value(int depth) {
    // Reports nest three levels deep; a bound keeps hostile input from exhausting the stack.
    if (depth > 64) fail("JSON nested deeper than 64 levels");
    skip();
    if (i_ >= s_.size()) fail("unexpected end of JSON");
    json_value v;
    const char c = s_[i_];
    if (c == '{') {
      v.type = json_value::kind::object;
      ++i_;
      skip();
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        return v;
      }
      while (true) {
        skip();
        if (i_ >= s_.size() || s_[i_] != '"') fail("expected a string key");
        std::string key = string();
        skip();
        if (i_ >= s_.size() || s_[i_] != ':') fail("expected ':' after a key");
        ++i_;
        v.members.emplace_back(std::move(key), value(depth + 1));
        skip();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == '}') {
          ++i_;
          return v;
        }
        fail("expected ',' or '}' in an object");
      }
    }
    if (c == '[') {
      v.type = json_value::kind::array;
      ++i_;
      skip();
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return v;
      }
      while (true) {
        v.items.push_back(value(depth + 1));
        skip();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == ']') {
          ++i_;
          return v;
        }
        fail("expected ',' or ']' in an array");
      }
    }
    if (c == '"') {
      v.type = json_value::kind::string;
      v.text = string();
      return v;
    }
    if (literal("null")) return v;
    if (literal("true") || literal("false")) {
      v.type = json_value::kind::boolean;
      v.boolean = s_[i_ - 1] == 'e' && s_.compare(i_ - 4, 4, "true") == 0;
      return v;
    }
    const char* start = s_.c_str() + i_;
    char* end = nullptr;
    v.number = std::strtod(start, &end);
    if (end == start || !(c == '-' || (c >= '0' && c <= '9'))) fail("expected a JSON value");
    i_ += static_cast<std::size_t>(end - start);
    v.type = json_value::kind::number;
    return v;
  }

  std::string string() {
    ++i_;  // the opening quote
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (c == '\\') {
        if (i_ >= s_.size()) break;
        const char e = s_[i_++];
        switch (e) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'u':
            // Names in reports are plain; keep \uXXXX escapes verbatim rather than decode them.
            out += "\\u";
            continue;
          default: c = e;
        }
      }
      out += c;
    }
    if (i_ >= s_.size()) fail("unterminated string");
    ++i_;
    return out;
  }

  std::string s_;
  std::string name_;
  std::size_t i_ = 0;
};

// The numbers at `path` (members separated by '/') in the JSON file `file`.
inline std::vector<double> json_numbers(const std::string& file, const std::string& path) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw json_error(file + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  const json_value root = json_parser(text.str(), file).parse();
  const json_value* at = &root;
  std::string walked;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    walked += (walked.empty() ? "" : "/") + part;
    const json_value* next = nullptr;
    if (at->type == json_value::kind::object) {
      next = at->member(part);
    } else if (at->type == json_value::kind::array) {
      for (const auto& item : at->items) {
        const json_value* name = item.member("name");
        if (name && name->type == json_value::kind::string && name->text == part) next = &item;
      }
      if (!next && !part.empty() && part.find_first_not_of("0123456789") == std::string::npos) {
        const auto index = std::stoull(part);
        if (index < at->items.size()) next = &at->items[index];
      }
    }
    if (!next) throw json_error(file + ": no member \"" + walked + "\"");
    at = next;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (at->type != json_value::kind::array) throw json_error(file + ": \"" + path + "\" is not an array of numbers");
  std::vector<double> values;
  for (const auto& item : at->items) {
    if (item.type == json_value::kind::number) {
      values.push_back(item.number);
    } else if (item.type == json_value::kind::null) {
      values.push_back(std::nan(""));
    } else {
      throw json_error(file + ": \"" + path + "\" holds something other than numbers");
    }
  }
  return values;
}

}  // namespace memloc::cli
