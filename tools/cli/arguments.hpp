#pragma once

// Command-line parsing for the memloc command: `memloc SUBCOMMAND [--option value ...]`.
// Each subcommand declares its options (name, how many values, whether it repeats); anything
// else is a usage error naming the option, so a typo never silently falls back to a default.

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace memloc::cli {

// A mistake in how the command was called: reported with the usage, exit status 2.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct option_spec {
  std::string name;      // without the leading "--"
  int values = 1;        // values that follow it (0 for a flag)
  bool repeats = false;  // may be given more than once
};

class arguments {
 public:
  arguments(const std::vector<std::string>& words, const std::vector<option_spec>& specs) {
    for (std::size_t i = 0; i < words.size(); ++i) {
      const std::string& word = words[i];
      if (word.rfind("--", 0) != 0) {
        positional_.push_back(word);
        continue;
      }
      const std::string name = word.substr(2);
      const option_spec* spec = find(specs, name);
      if (!spec) throw usage_error("unknown option --" + name);
      if (!spec->repeats && values_.count(name)) throw usage_error("--" + name + " given more than once");
      std::vector<std::string> taken;
      for (int k = 0; k < spec->values; ++k) {
        if (i + 1 >= words.size() || (words[i + 1].rfind("--", 0) == 0 && words[i + 1].size() > 2)) {
          throw usage_error("--" + name + " needs " + std::to_string(spec->values) + " value" +
                            (spec->values == 1 ? "" : "s"));
        }
        taken.push_back(words[++i]);
      }
      values_[name].push_back(taken);
    }
  }

  bool has(const std::string& name) const { return values_.count(name) != 0; }

  // The single value of an option, or `fallback` when it was not given.
  std::string get(const std::string& name, const std::string& fallback = {}) const {
    const auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second.front().front();
  }

  std::string required(const std::string& name) const {
    if (!has(name)) throw usage_error("--" + name + " is required");
    return get(name);
  }

  // Every occurrence of a repeating option, each with its values.
  std::vector<std::vector<std::string>> all(const std::string& name) const {
    const auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::vector<std::string>>{} : it->second;
  }

  const std::vector<std::string>& positional() const noexcept { return positional_; }

 private:
  static const option_spec* find(const std::vector<option_spec>& specs, const std::string& name) {
    for (const auto& s : specs) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }

  std::map<std::string, std::vector<std::vector<std::string>>> values_;
  std::vector<std::string> positional_;
};

// An integer option value, whole and in range, or a usage error naming the option.
inline std::int64_t parse_integer(const std::string& option, const std::string& text, std::int64_t minimum) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) throw usage_error("--" + option + " must be an integer, got \"" + text + "\"");
  if (value < minimum) throw usage_error("--" + option + " must be >= " + std::to_string(minimum) + ", got " + text);
  return value;
}

// One of a fixed set of words, mapped to its value.
template <class T>
T parse_choice(const std::string& option, const std::string& text, const std::vector<std::pair<std::string, T>>& choices) {
  std::string names;
  for (const auto& [word, value] : choices) {
    if (word == text) return value;
    names += (names.empty() ? "" : "|") + word;
  }
  throw usage_error("--" + option + " must be one of " + names + ", got \"" + text + "\"");
}

}  // namespace memloc::cli
