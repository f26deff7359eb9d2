#pragma once

// A streaming JSON writer for the memloc command's reports: objects, arrays, strings and
// numbers written in order, commas and indentation handled here. Doubles are written in
// their shortest form that reads back to the same double (std::to_chars), so a report loses
// nothing; NaN and infinities, which JSON cannot hold, are written as null (the report's
// counts say how many NaN units there were). Misuse (a value where a key is due, unbalanced
// ends) is a logic error of the command itself and throws std::logic_error.

#include <charconv>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace memloc::cli {

// The shortest text that reads back to the same double; "nan", "inf" and "-inf" for the
// values JSON cannot hold (CSV readers such as pandas and numpy accept these).
inline std::string shortest(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, x);
  return std::string(buffer, result.ptr);
}

class json_writer {
 public:
  explicit json_writer(std::ostream& out) : out_(out) {}

  void begin_object() { open('{', frame::object); }
  void end_object() { close('}', frame::object); }
  void begin_array() { open('[', frame::array); }
  void end_array() { close(']', frame::array); }

  // The key of the next member of the current object.
  void key(std::string_view name) {
    if (frames_.empty() || frames_.back().kind != frame::object || frames_.back().key_written) {
      throw std::logic_error("json_writer: a key outside an object, or two keys in a row");
    }
    separate();
    write_string(name);
    out_ << ": ";
    frames_.back().key_written = true;
  }

  void value(double x) {
    before_value();
    out_ << (std::isfinite(x) ? shortest(x) : std::string("null"));
  }
  void value(std::int64_t x) {
    before_value();
    out_ << x;
  }
  void value(bool x) {
    before_value();
    out_ << (x ? "true" : "false");
  }
  void value(std::string_view text) {
    before_value();
    write_string(text);
  }
  void value(const char* text) { value(std::string_view(text)); }
  void null() {
    before_value();
    out_ << "null";
  }

  // A member holding an array of numbers or strings, written on one line.
  template <class T>
  void member(std::string_view name, const std::vector<T>& values) {
    key(name);
    begin_array();
    inline_ = true;
    for (const auto& v : values) value(convert(v));
    end_array();
    inline_ = false;
  }
  template <class T>
  void member(std::string_view name, const T& single) {
    key(name);
    value(convert(single));
  }

  // True once every opened object and array has been closed.
  bool complete() const noexcept { return frames_.empty() && wrote_root_; }

 private:
  enum class frame { object, array };
  struct level {
    frame kind;
    bool has_items = false;
    bool key_written = false;
  };

  template <class T>
  static auto convert(const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      return v;
    } else if constexpr (std::is_integral_v<T>) {
      return static_cast<std::int64_t>(v);
    } else if constexpr (std::is_floating_point_v<T>) {
      return static_cast<double>(v);
    } else {
      return std::string_view(v);
    }
  }

  void open(char bracket, frame kind) {
    before_value();
    out_ << bracket;
    frames_.push_back({kind});
  }

  void close(char bracket, frame kind) {
    if (frames_.empty() || frames_.back().kind != kind || frames_.back().key_written) {
      throw std::logic_error("json_writer: unbalanced end of an object or array");
    }
    const bool had_items = frames_.back().has_items;
    frames_.pop_back();
    if (had_items && !inline_) newline();
    out_ << bracket;
    if (frames_.empty()) out_ << '\n';
  }

  // Commas and line breaks before an item of the current container.
  void separate() {
    level& top = frames_.back();
    if (top.has_items) out_ << (inline_ ? ", " : ",");
    if (!inline_) newline();
    top.has_items = true;
  }

  void before_value() {
    if (frames_.empty()) {
      if (wrote_root_) throw std::logic_error("json_writer: a second top-level value");
      wrote_root_ = true;
      return;
    }
    level& top = frames_.back();
    if (top.kind == frame::object) {
      if (!top.key_written) throw std::logic_error("json_writer: a value in an object needs a key first");
      top.key_written = false;
      return;
    }
    separate();
  }

  void newline() {
    out_ << '\n';
    for (std::size_t i = 0; i < frames_.size(); ++i) out_ << "  ";
  }

  void write_string(std::string_view text) {
    out_ << '"';
    for (const char c : text) {
      switch (c) {
        case '"': out_ << "\\\""; break;
        case '\\': out_ << "\\\\"; break;
        case '\n': out_ << "\\n"; break;
        case '\r': out_ << "\\r"; break;
        case '\t': out_ << "\\t"; break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            const char* digits = "0123456789abcdef";
            out_ << "\\u00" << digits[(c >> 4) & 0xf] << digits[c & 0xf];
          } else {
            out_ << c;
          }
      }
    }
    out_ << '"';
  }

  std::ostream& out_;
  std::vector<level> frames_;
  bool wrote_root_ = false;
  bool inline_ = false;
};

}  // namespace memloc::cli
