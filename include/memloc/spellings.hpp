#pragma once

// The words every option enum is written as, in one table per enum, read both ways: to print
// a value (reports, error messages: `to_string`) and to parse one (the memloc command, the
// Python module: `from_string`). Printing and parsing share the table, so whatever a report
// writes parses back to the same value. The first word of a value is the one printed; later
// words of the same value are accepted spellings kept for callers that already use them
// (SciPy's "two-sided", the command's older "all" and "original").

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "analysis_types.hpp"
#include "options.hpp"

namespace memloc {

template <class Enum>
struct spelling {
  Enum value;
  const char* word;
};

// Specialized below for each option enum: `words`, the table.
template <class Enum>
struct enum_words;

template <>
struct enum_words<distance_kind> {
  static constexpr spelling<distance_kind> words[] = {{distance_kind::l2, "l2"},
                                                      {distance_kind::l2_normalized, "l2_normalized"},
                                                      {distance_kind::l1, "l1"},
                                                      {distance_kind::cosine, "cosine"},
                                                      {distance_kind::angular, "angular"}};
};
template <>
struct enum_words<pair_mode> {
  static constexpr spelling<pair_mode> words[] = {{pair_mode::all_pairs, "all_pairs"},
                                                  {pair_mode::original_vs_views, "original_vs_views"},
                                                  {pair_mode::all_pairs, "all"},
                                                  {pair_mode::original_vs_views, "original"}};
};
template <>
struct enum_words<sslmem_normalization> {
  static constexpr spelling<sslmem_normalization> words[] = {{sslmem_normalization::ratio, "ratio"},
                                                             {sslmem_normalization::range, "range"},
                                                             {sslmem_normalization::max, "max"},
                                                             {sslmem_normalization::none, "none"}};
};
template <>
struct enum_words<subset_kind> {
  static constexpr spelling<subset_kind> words[] = {
      {subset_kind::all, "all"}, {subset_kind::random, "random"}, {subset_kind::top, "top"}, {subset_kind::least, "least"}};
};
template <>
struct enum_words<rest_reduction> {
  static constexpr spelling<rest_reduction> words[] = {{rest_reduction::mean, "mean"}, {rest_reduction::median, "median"}};
};
template <>
struct enum_words<activation_transform> {
  static constexpr spelling<activation_transform> words[] = {
      {activation_transform::none, "none"}, {activation_transform::relu, "relu"}, {activation_transform::abs, "abs"}};
};
template <>
struct enum_words<unitmem_storage> {
  static constexpr spelling<unitmem_storage> words[] = {{unitmem_storage::automatic, "automatic"},
                                                        {unitmem_storage::per_unit, "per_unit"},
                                                        {unitmem_storage::per_sample, "per_sample"},
                                                        {unitmem_storage::automatic, "auto"}};
};
template <>
struct enum_words<top_k_kind> {
  static constexpr spelling<top_k_kind> words[] = {{top_k_kind::count, "count"}, {top_k_kind::fraction, "fraction"}};
};
template <>
struct enum_words<rank_direction> {
  static constexpr spelling<rank_direction> words[] = {{rank_direction::top, "top"}, {rank_direction::least, "least"}};
};
template <>
struct enum_words<alternative> {
  static constexpr spelling<alternative> words[] = {{alternative::two_sided, "two_sided"},
                                                    {alternative::greater, "greater"},
                                                    {alternative::less, "less"},
                                                    {alternative::two_sided, "two-sided"}};
};
template <>
struct enum_words<kendall_method> {
  static constexpr spelling<kendall_method> words[] = {{kendall_method::automatic, "automatic"},
                                                       {kendall_method::exact, "exact"},
                                                       {kendall_method::asymptotic, "asymptotic"},
                                                       {kendall_method::automatic, "auto"}};
};
template <>
struct enum_words<t_test_kind> {
  static constexpr spelling<t_test_kind> words[] = {{t_test_kind::student, "student"}, {t_test_kind::welch, "welch"}};
};
template <>
struct enum_words<prune_selection> {
  static constexpr spelling<prune_selection> words[] = {
      {prune_selection::top, "top"}, {prune_selection::low, "low"}, {prune_selection::random, "random"}};
};
template <>
struct enum_words<prune_scope> {
  static constexpr spelling<prune_scope> words[] = {{prune_scope::per_layer, "per_layer"}, {prune_scope::total, "total"}};
};

template <class Enum, class = void>
struct has_spellings : std::false_type {};
template <class Enum>
struct has_spellings<Enum, std::void_t<decltype(enum_words<Enum>::words)>> : std::true_type {};

namespace detail {
template <class Enum>
const char* printed_word(Enum value) noexcept {
  for (const auto& s : enum_words<Enum>::words) {
    if (s.value == value) return s.word;
  }
  return "(not a value of this option)";
}
}  // namespace detail

// The printed word of a value; a value outside the enum (a cast integer) says so. One plain
// overload per enum rather than a template, so that other libraries' generic to_string
// (CLI11's, for one) never meets an equally good candidate.
inline const char* to_string(distance_kind v) noexcept { return detail::printed_word(v); }
inline const char* to_string(pair_mode v) noexcept { return detail::printed_word(v); }
inline const char* to_string(sslmem_normalization v) noexcept { return detail::printed_word(v); }
inline const char* to_string(subset_kind v) noexcept { return detail::printed_word(v); }
inline const char* to_string(rest_reduction v) noexcept { return detail::printed_word(v); }
inline const char* to_string(activation_transform v) noexcept { return detail::printed_word(v); }
inline const char* to_string(unitmem_storage v) noexcept { return detail::printed_word(v); }
inline const char* to_string(top_k_kind v) noexcept { return detail::printed_word(v); }
inline const char* to_string(rank_direction v) noexcept { return detail::printed_word(v); }
inline const char* to_string(alternative v) noexcept { return detail::printed_word(v); }
inline const char* to_string(kendall_method v) noexcept { return detail::printed_word(v); }
inline const char* to_string(t_test_kind v) noexcept { return detail::printed_word(v); }
inline const char* to_string(prune_selection v) noexcept { return detail::printed_word(v); }
inline const char* to_string(prune_scope v) noexcept { return detail::printed_word(v); }

// The value a word names (any of its spellings), or nothing.
template <class Enum, class = std::enable_if_t<has_spellings<Enum>::value>>
std::optional<Enum> from_string(std::string_view word) noexcept {
  for (const auto& s : enum_words<Enum>::words) {
    if (word == s.word) return s.value;
  }
  return std::nullopt;
}

// The printed words joined by `separator` ("mean|median"), for usage lines and messages.
template <class Enum, class = std::enable_if_t<has_spellings<Enum>::value>>
std::string printed_words(const char* separator = "|") {
  std::string joined;
  for (const auto& s : enum_words<Enum>::words) {
    if (std::string_view(to_string(s.value)) != s.word) continue;  // an accepted spelling, not printed
    joined += (joined.empty() ? "" : separator);
    joined += s.word;
  }
  return joined;
}

}  // namespace memloc
