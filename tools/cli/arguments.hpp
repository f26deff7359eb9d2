#pragma once

// The command's options on CLI11 (and the SSL demo's): the kinds of values memloc takes beyond
// CLI11's own (integers with a minimum or in a range, numbers in (0, maximum], words of an
// option enum, counts or percentages), each checked while parsing so that a bad value is
// reported as "--option: what was wanted, what came".

#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include <memloc/analysis_types.hpp>
#include <memloc/spellings.hpp>

#include "usage_error.hpp"

namespace memloc::cli {

// An integer option of at least `minimum` (--threads 0, --classes 2, --count 1), and of at
// most `maximum` where one is given (the SSL demo's --threads 1..64).
inline CLI::Option* add_integer(CLI::App& app, const std::string& name, std::int64_t& value, std::int64_t minimum,
                                std::optional<std::int64_t> maximum, const std::string& help) {
  const std::string low = std::to_string(minimum), high = maximum ? std::to_string(*maximum) : "";
  const std::string wanted = maximum ? "in [" + low + ", " + high + "]" : ">= " + low;
  const CLI::Validator in_range(
      [minimum, maximum, wanted](std::string& text) -> std::string {
        std::size_t used = 0;
        long long parsed = 0;
        try {
          parsed = std::stoll(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != text.size() || parsed < minimum || (maximum && parsed > *maximum)) {
          return "must be an integer " + wanted + ", got \"" + text + "\"";
        }
        return {};
      },
      "", "");
  return app.add_option(name, value, help)->check(in_range)->type_name(maximum ? "INT[" + low + "," + high + "]" : "INT>=" + low);
}

inline CLI::Option* add_integer(CLI::App& app, const std::string& name, std::int64_t& value, std::int64_t minimum,
                                const std::string& help) {
  return add_integer(app, name, value, minimum, std::nullopt, help);
}

// A number in (0, `maximum`] (the SSL demo's --width and --temperature); NaN is refused.
inline CLI::Option* add_positive(CLI::App& app, const std::string& name, double& value, double maximum, const std::string& help) {
  char buffer[32];
  const std::string bound(buffer, std::to_chars(buffer, buffer + sizeof buffer, maximum).ptr);
  const std::string wanted = "(0, " + bound + "]";
  const CLI::Validator in_range(
      [maximum, wanted](std::string& text) -> std::string {
        std::size_t used = 0;
        double parsed = 0.0;
        try {
          parsed = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != text.size() || !(parsed > 0.0 && parsed <= maximum)) {
          return "must be a number in " + wanted + ", got \"" + text + "\"";
        }
        return {};
      },
      "", "");
  return app.add_option(name, value, help)->check(in_range)->type_name("NUM(0," + bound + "]");
}

// An option enum, parsed and printed with the words of memloc/spellings.hpp: the choices in
// the help are the words reports print.
template <class Enum>
CLI::Option* add_choice(CLI::App& app, const std::string& name, Enum& value, const std::string& help) {
  const CLI::Validator words(
      [](std::string& text) -> std::string {
        const auto parsed = from_string<Enum>(text);
        if (!parsed) return "must be one of " + printed_words<Enum>() + ", got \"" + text + "\"";
        text = std::to_string(static_cast<int>(*parsed));  // CLI11 stores enums from their integer
        return {};
      },
      "", "");
  return app.add_option(name, value, help)->transform(words)->type_name(printed_words<Enum>())->default_str(to_string(value));
}

// "100" is a count, "1%" or "0.5%" a share of the items; nothing if the text is neither.
inline std::optional<top_k> k_from_text(const std::string& text) {
  const bool percent = !text.empty() && text.back() == '%';
  const std::string number = percent ? text.substr(0, text.size() - 1) : text;
  std::size_t used = 0;
  double share = 0.0;
  long long count = 0;
  try {
    if (percent) {
      share = std::stod(number, &used);
    } else {
      count = std::stoll(number, &used);
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used == 0 || used != number.size() || (!percent && count < 1)) return std::nullopt;
  return percent ? top_fraction(share / 100.0) : top_count(count);
}

// A count or percentage option, checked while parsing; read it with k_from_text.
inline CLI::Option* add_k(CLI::App& app, const std::string& name, std::string& text, const std::string& help) {
  const CLI::Validator count_or_percent(
      [](std::string& value) -> std::string {
        return k_from_text(value) ? std::string() : "must be a count >= 1 or a percentage (100 or 1%), got \"" + value + "\"";
      },
      "", "");
  return app.add_option(name, text, help)->check(count_or_percent)->type_name("K|P%")->capture_default_str();
}

}  // namespace memloc::cli
