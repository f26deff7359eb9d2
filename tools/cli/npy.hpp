#pragma once

// Reader for NumPy .npy files (format versions 1.0, 2.0 and 3.0) as written by numpy.save,
// the input layer of the memloc command. Files are memory-mapped read-only; the header is
// checked by a strict parser of its own (never evaluated), so a hostile or damaged file
// raises format_error and never reads outside the mapping.
//
// Format facts used here (numpy/lib/format.py documents them): the magic "\x93NUMPY",
// one byte each of major and minor version, a little-endian header length (u16 in 1.0,
// u32 in 2.0 and 3.0), then the header: the repr of a dict with the keys 'descr',
// 'fortran_order' and 'shape', padded with spaces and ended by '\n'; the data follows at once.
// 1.0 and 2.0 headers are latin-1 (we accept ASCII only), 3.0 headers are UTF-8.
//
// POSIX only (mmap, glob, opendir through std::filesystem).

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <glob.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memloc/error.hpp>
#include <memloc/types.hpp>
#include <memloc/view.hpp>

namespace memloc::npy {

// The file is not a .npy file memloc can read; the message names the file and the problem.
class format_error : public memloc::error {
 public:
  using error::error;
};

// The operating system refused to open, stat, list or map something; the message names it.
class io_error : public memloc::error {
 public:
  using error::error;
};

// Integers are read only when the caller asks (sample ids, labels); activations are floats.
enum class dtype { f16, f32, f64, bf16, i8, i16, i32, i64, u8, u16, u32, u64 };
enum class byte_order { little, big };

inline const char* to_string(dtype t) noexcept {
  switch (t) {
    case dtype::f16: return "float16";
    case dtype::f32: return "float32";
    case dtype::f64: return "float64";
    case dtype::bf16: return "bfloat16";
    case dtype::i8: return "int8";
    case dtype::i16: return "int16";
    case dtype::i32: return "int32";
    case dtype::i64: return "int64";
    case dtype::u8: return "uint8";
    case dtype::u16: return "uint16";
    case dtype::u32: return "uint32";
    case dtype::u64: return "uint64";
  }
  return "?";
}

inline std::size_t item_size(dtype t) noexcept {
  switch (t) {
    case dtype::i8:
    case dtype::u8: return 1;
    case dtype::f16:
    case dtype::bf16:
    case dtype::i16:
    case dtype::u16: return 2;
    case dtype::f32:
    case dtype::i32:
    case dtype::u32: return 4;
    case dtype::f64:
    case dtype::i64:
    case dtype::u64: return 8;
  }
  return 0;
}

inline bool is_integer(dtype t) noexcept { return t >= dtype::i8; }

// The file type whose elements are T's bits: float16 for memloc::half, bfloat16 for
// memloc::bfloat16.
template <class T>
constexpr dtype stored_type() noexcept {
  return std::is_same_v<T, half> ? dtype::f16 : dtype::bf16;
}

struct open_options {
  // NumPy has no bfloat16, so PyTorch dumps of bf16 tensors arrive as uint16 bit patterns;
  // only the caller knows whether a uint16 file holds those or genuine integers.
  bool uint16_as_bfloat16 = false;
  // Sample ids and labels are integer arrays; activation files never are.
  bool integers = false;
  // numpy itself refuses headers above 10 000 bytes by default; 1 MiB leaves room for
  // legitimate writers while bounding what a lying header can make us scan.
  std::uint32_t max_header_len = 1u << 20;
};

// NumPy's own limit (NPY_MAXDIMS) before 2.0; a larger rank is a corrupt header.
inline constexpr std::size_t max_rank = 32;

struct header {
  int major_version = 0;
  int minor_version = 0;
  std::string descr;
  dtype type = dtype::f32;
  byte_order order = byte_order::little;
  bool fortran_order = false;
  std::vector<index_t> shape;
  // In elements; Fortran order has the reversed (column-major) strides.
  std::vector<index_t> strides;
  std::uint64_t data_offset = 0;
  std::uint64_t data_bytes = 0;
};

namespace detail {

[[noreturn]] inline void fail(const std::string& name, const std::string& what) {
  throw format_error(name + ": " + what);
}

// Header text is untrusted: keep messages printable and short.
inline std::string printable(std::string_view s, std::size_t limit = 60) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > limit) out += "...";
  return out;
}

inline bool host_is_little_endian() noexcept {
  const std::uint16_t one = 1;
  unsigned char first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

// Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points
// above U+10FFFF included), or npos.
inline std::size_t utf8_error_at(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1fu, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0fu, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07u, min = 0x10000;
    } else {
      return i;
    }
    if (s.size() - i < len) return i;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += len;
  }
  return std::string_view::npos;
}

// A recursive-descent parser for the one dict shape numpy writes. Python would accept far
// more (nested expressions, escapes, comments); refusing it all keeps the attack surface to
// what a real .npy header contains.
class header_parser {
 public:
  header_parser(std::string_view text, const std::string& name, const open_options& options)
      : s_(text), name_(name), options_(options) {}

  void parse(header& h) {
    skip_ws();
    if (!consume('{')) {
      fail(name_, "header must be a Python dict literal starting with '{', got '" + rest() + "'");
    }
    bool seen[3] = {false, false, false};
    static constexpr const char* keys[3] = {"descr", "fortran_order", "shape"};
    for (;;) {
      skip_ws();
      if (consume('}')) break;  // an empty dict, or a trailing comma before '}'
      const std::string key = parse_string("a header key");
      int k = 0;
      while (k < 3 && key != keys[k]) ++k;
      if (k == 3) fail(name_, "header has unknown key '" + printable(key) + "'");
      if (seen[k]) fail(name_, "header has duplicate key '" + key + "'");
      seen[k] = true;
      skip_ws();
      if (!consume(':')) fail(name_, "header: expected ':' after key '" + key + "', got '" + rest() + "'");
      skip_ws();
      if (k == 0) parse_descr(h);
      if (k == 1) parse_fortran_order(h);
      if (k == 2) parse_shape(h);
      skip_ws();
      if (consume(',')) continue;
      if (consume('}')) break;
      fail(name_, "header: expected ',' or '}' after the value of '" + key + "', got '" + rest() + "'");
    }
    // Only padding may follow the dict (the final '\n' was removed by the caller).
    const std::size_t after = pos_;
    skip_ws();
    if (pos_ != s_.size()) {
      const std::size_t last = s_.find_last_not_of(" \t");
      fail(name_, "header has trailing garbage after the dict: '" + printable(s_.substr(after, last + 1 - after)) + "'");
    }
    for (int k = 0; k < 3; ++k) {
      if (!seen[k]) fail(name_, std::string("header is missing key '") + keys[k] + "'");
    }
  }

 private:
  char peek() const noexcept { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool consume(char c) noexcept {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void skip_ws() noexcept {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  // The token at the cursor, for messages: up to the next delimiter, at least one character.
  std::string rest() const {
    if (pos_ >= s_.size()) return "end of header";
    std::size_t end = pos_ + 1;
    while (end < s_.size() && std::string_view(",:}( \t").find(s_[end]) == std::string_view::npos) ++end;
    return printable(s_.substr(pos_, end - pos_), 40);
  }

  // Python string literals without escapes: numpy never writes a backslash in these.
  std::string parse_string(const char* what) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') {
      fail(name_, std::string("header: expected a quoted string as ") + what + ", got '" + rest() + "'");
    }
    const std::size_t start = ++pos_;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      if (s_[pos_] == '\\') fail(name_, std::string("header: escape sequences are not supported in ") + what);
      ++pos_;
    }
    if (pos_ == s_.size()) fail(name_, std::string("header: unterminated string in ") + what);
    ++pos_;
    return std::string(s_.substr(start, pos_ - 1 - start));
  }

  void parse_descr(header& h) {
    if (peek() == '[') fail(name_, "structured dtypes are not supported (header 'descr' is a list)");
    h.descr = parse_string("the value of 'descr'");
    const std::string& d = h.descr;
    const bool sized = d.size() == 3 && (d[0] == '<' || d[0] == '>' || (d[0] == '|' && d[2] == '1'));
    const std::string code = sized ? d.substr(1) : std::string();
    h.order = sized && d[0] == '>' ? byte_order::big : byte_order::little;
    if (code == "f2") {
      h.type = dtype::f16;
    } else if (code == "f4") {
      h.type = dtype::f32;
    } else if (code == "f8") {
      h.type = dtype::f64;
    } else if (code == "u2" && options_.uint16_as_bfloat16) {
      h.type = dtype::bf16;
    } else if (options_.integers && integer_code(code, h.type)) {
      // h.type set by integer_code
    } else if (code == "u2") {
      fail(name_, "dtype '" + d + "' (uint16) is read only as bfloat16 bits; enable uint16_as_bfloat16 "
                  "if this file holds bfloat16 activations");
    } else {
      fail(name_, "unsupported dtype '" + printable(d) +
                      "' (supported: <f2 >f2 <f4 >f4 <f8 >f8, and <u2 >u2 as bfloat16)");
    }
  }

  static bool integer_code(const std::string& code, dtype& type) {
    static const std::pair<const char*, dtype> codes[] = {{"i1", dtype::i8},  {"i2", dtype::i16}, {"i4", dtype::i32},
                                                          {"i8", dtype::i64}, {"u1", dtype::u8},  {"u2", dtype::u16},
                                                          {"u4", dtype::u32}, {"u8", dtype::u64}};
    for (const auto& [name, value] : codes) {
      if (code == name) {
        type = value;
        return true;
      }
    }
    return false;
  }

  void parse_fortran_order(header& h) {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
    const std::string_view word = s_.substr(start, pos_ - start);
    if (word == "True") {
      h.fortran_order = true;
    } else if (word == "False") {
      h.fortran_order = false;
    } else {
      pos_ = start;
      fail(name_, "header 'fortran_order' must be True or False, got '" + rest() + "'");
    }
  }

  // The shape value as written, for messages: up to its closing bracket or the next delimiter.
  std::string raw_value(std::size_t start) const {
    std::size_t end = start;
    if (end < s_.size() && (s_[end] == '(' || s_[end] == '[')) {
      const char close = s_[end] == '(' ? ')' : ']';
      while (end < s_.size() && s_[end] != close && s_[end] != '}') ++end;
      if (end < s_.size() && s_[end] == close) ++end;
    } else {
      while (end < s_.size() && s_[end] != ',' && s_[end] != '}') ++end;
    }
    return printable(s_.substr(start, end - start));
  }

  void parse_shape(header& h) {
    const std::size_t start = pos_;
    auto bad = [&](const char* problem) {
      fail(name_, std::string("header 'shape' ") + problem + ", got " + raw_value(start));
    };
    const char* not_tuple = "must be a tuple of non-negative integers";
    if (!consume('(')) bad(not_tuple);
    skip_ws();
    h.shape.clear();
    if (consume(')')) return;  // () is a 0-d array; rejected with its own message later
    for (;;) {
      if (!std::isdigit(static_cast<unsigned char>(peek()))) bad(not_tuple);
      // Python 3 has no leading zeros in integer literals ("03" is a syntax error).
      if (peek() == '0' && pos_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_ + 1]))) {
        bad(not_tuple);
      }
      index_t dim = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const int digit = s_[pos_++] - '0';
        if (dim > (std::numeric_limits<index_t>::max() - digit) / 10) bad("has a dimension that overflows int64");
        dim = dim * 10 + digit;
      }
      if (h.shape.size() == max_rank) bad("has more than 32 dimensions");
      h.shape.push_back(dim);
      skip_ws();
      if (consume(',')) {
        skip_ws();
        if (consume(')')) return;
        continue;
      }
      // "(3)" is a parenthesised int in Python, not a tuple.
      if (consume(')') && h.shape.size() > 1) return;
      bad(not_tuple);
    }
  }

  std::string_view s_;
  const std::string& name_;
  const open_options& options_;
  std::size_t pos_ = 0;
};

}  // namespace detail

// Parses and validates the preamble and header of a .npy image of `size` bytes (the whole
// file: the data must fit it exactly). `name` prefixes every error message.
inline header parse_header(const unsigned char* bytes, std::size_t size, const std::string& name,
                           const open_options& options = {}) {
  using detail::fail;
  static constexpr unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (std::memcmp(bytes, magic, std::min<std::size_t>(size, 6)) != 0) {
    fail(name, "not a .npy file (the magic string \\x93NUMPY is missing)");
  }
  if (size < 8) fail(name, "file is truncated inside the .npy preamble (" + std::to_string(size) + " bytes)");
  header h;
  h.major_version = bytes[6];
  h.minor_version = bytes[7];
  if (h.major_version < 1 || h.major_version > 3 || h.minor_version != 0) {
    fail(name, "unsupported .npy format version " + std::to_string(h.major_version) + "." +
                   std::to_string(h.minor_version) + " (supported: 1.0, 2.0, 3.0)");
  }
  const std::size_t len_bytes = h.major_version == 1 ? 2 : 4;
  const std::size_t prefix = 8 + len_bytes;
  if (size < prefix) fail(name, "file is truncated inside the .npy preamble (" + std::to_string(size) + " bytes)");
  std::uint64_t header_len = 0;
  for (std::size_t i = len_bytes; i-- > 0;) header_len = (header_len << 8) | bytes[8 + i];
  if (header_len > options.max_header_len) {
    fail(name, "header length " + std::to_string(header_len) + " exceeds the limit of " +
                   std::to_string(options.max_header_len) + " bytes");
  }
  if (header_len > size - prefix) {
    fail(name, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                   std::to_string(size) + " bytes)");
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes + prefix), header_len);
  if (h.major_version < 3) {
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (static_cast<unsigned char>(text[i]) >= 0x80) {
        fail(name, "header of a version " + std::to_string(h.major_version) +
                       ".0 file must be ASCII, found a non-ASCII byte at header offset " + std::to_string(i));
      }
    }
  } else if (const std::size_t at = detail::utf8_error_at(text); at != std::string_view::npos) {
    fail(name, "header of a version 3.0 file is not valid UTF-8 at header offset " + std::to_string(at));
  }
  if (text.empty() || text.back() != '\n') fail(name, "header must end with a newline");
  detail::header_parser(text.substr(0, text.size() - 1), name, options).parse(h);

  if (h.shape.empty()) fail(name, "0-d arrays are not supported (an activation dump has at least one axis)");
  // Every partial product must fit, not just the total: a zero dimension would otherwise
  // hide an overflowing row size.
  const auto item = static_cast<index_t>(item_size(h.type));
  index_t nonzero_bytes = item;
  index_t elements = 1;
  for (const index_t d : h.shape) {
    if (d == 0) {
      elements = 0;
      continue;
    }
    if (nonzero_bytes > std::numeric_limits<index_t>::max() / d) {
      fail(name, "header 'shape' describes an array whose byte size overflows int64");
    }
    nonzero_bytes *= d;
    elements *= d;
  }
  h.strides.assign(h.shape.size(), 1);
  const std::size_t rank = h.shape.size();
  for (std::size_t r = 1; r < rank; ++r) {
    if (h.fortran_order) {
      h.strides[r] = h.strides[r - 1] * h.shape[r - 1];
    } else {
      h.strides[rank - 1 - r] = h.strides[rank - r] * h.shape[rank - r];
    }
  }
  h.data_offset = prefix + header_len;
  h.data_bytes = static_cast<std::uint64_t>(elements) * static_cast<std::uint64_t>(item);
  const std::uint64_t available = size - h.data_offset;
  if (available < h.data_bytes) {
    fail(name, "data is truncated: the header shape needs " + std::to_string(h.data_bytes) +
                   " bytes of data, the file has " + std::to_string(available));
  }
  if (available > h.data_bytes) {
    fail(name, "file has " + std::to_string(available - h.data_bytes) +
                   " bytes after the array data (the header shape does not match the file)");
  }
  return h;
}

namespace detail {

template <class U>
inline U load(const unsigned char* p, bool swap) noexcept {
  unsigned char b[sizeof(U)];
  std::memcpy(b, p, sizeof(U));
  if (swap) std::reverse(b, b + sizeof(U));
  U v;
  std::memcpy(&v, b, sizeof(U));
  return v;
}

// Converts `n` elements `src_step` bytes apart to T, `dst_step` apart.
template <class T>
inline void convert(dtype type, bool swap, const unsigned char* src, std::size_t src_step, index_t n, T* dst,
                    index_t dst_step = 1) {
  if constexpr (std::is_same_v<T, half> || std::is_same_v<T, bfloat16>) {
    // The caller checked that the file stores T: only the byte order may change.
    for (index_t i = 0; i < n; ++i, src += src_step, dst += dst_step) *dst = T{load<std::uint16_t>(src, swap)};
  } else {
    auto each = [&](auto load_one) {
      for (index_t i = 0; i < n; ++i, src += src_step, dst += dst_step) *dst = static_cast<T>(load_one(src));
    };
    switch (type) {
      case dtype::f16:
        each([swap](const unsigned char* p) { return to_float(half{load<std::uint16_t>(p, swap)}); });
        break;
      case dtype::bf16:
        each([swap](const unsigned char* p) { return to_float(bfloat16{load<std::uint16_t>(p, swap)}); });
        break;
      case dtype::f32:
        each([swap](const unsigned char* p) { return load<float>(p, swap); });
        break;
      case dtype::f64:
        each([swap](const unsigned char* p) { return load<double>(p, swap); });
        break;
      case dtype::i8: each([swap](const unsigned char* p) { return load<std::int8_t>(p, swap); }); break;
      case dtype::i16: each([swap](const unsigned char* p) { return load<std::int16_t>(p, swap); }); break;
      case dtype::i32: each([swap](const unsigned char* p) { return load<std::int32_t>(p, swap); }); break;
      case dtype::i64: each([swap](const unsigned char* p) { return load<std::int64_t>(p, swap); }); break;
      case dtype::u8: each([swap](const unsigned char* p) { return load<std::uint8_t>(p, swap); }); break;
      case dtype::u16: each([swap](const unsigned char* p) { return load<std::uint16_t>(p, swap); }); break;
      case dtype::u32: each([swap](const unsigned char* p) { return load<std::uint32_t>(p, swap); }); break;
      case dtype::u64: each([swap](const unsigned char* p) { return load<std::uint64_t>(p, swap); }); break;
    }
  }
}

// Owns a read-only mapping; empty files are never mapped (mmap refuses length 0).
class mapping {
 public:
  mapping() = default;
  explicit mapping(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw io_error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int e = errno;
      ::close(fd);
      throw io_error(path + ": cannot stat: " + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      throw io_error(path + ": not a regular file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* addr = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      const int e = errno;
      ::close(fd);
      if (addr == MAP_FAILED) throw io_error(path + ": cannot mmap: " + std::strerror(e));
      addr_ = addr;
      // Rows are mostly read front to back; let the kernel read ahead and drop behind.
      ::madvise(addr_, size_, MADV_SEQUENTIAL);
    } else {
      ::close(fd);
    }
  }
  mapping(mapping&& o) noexcept : addr_(std::exchange(o.addr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  mapping& operator=(mapping&& o) noexcept {
    if (this != &o) {
      reset();
      addr_ = std::exchange(o.addr_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  mapping(const mapping&) = delete;
  mapping& operator=(const mapping&) = delete;
  ~mapping() { reset(); }

  const unsigned char* data() const noexcept { return static_cast<const unsigned char*>(addr_); }
  std::size_t size() const noexcept { return size_; }

 private:
  void reset() noexcept {
    if (addr_) ::munmap(addr_, size_);
    addr_ = nullptr;
  }
  void* addr_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace detail

// One .npy array, memory-mapped (or borrowed from memory for from_memory). Axis 0 is the
// row axis: read_rows converts any run of rows to float or double in C order, which is
// how the memloc command streams files larger than RAM through a bounded buffer.
// The file must not shrink while it is mapped (the kernel would raise SIGBUS).
class npy_file {
 public:
  explicit npy_file(std::string path, const open_options& options = {})
      : path_(std::move(path)), map_(path_) {
    static constexpr unsigned char none = 0;
    bytes_ = map_.size() ? map_.data() : &none;
    header_ = parse_header(bytes_, map_.size(), path_, options);
  }

  // Parses a .npy image held by the caller, who keeps it alive; `name` is used in messages.
  static npy_file from_memory(const void* bytes, std::size_t size, std::string name,
                              const open_options& options = {}) {
    static constexpr unsigned char none = 0;
    const auto* p = size ? static_cast<const unsigned char*>(bytes) : &none;
    header h = parse_header(p, size, name, options);  // before `name` is moved from
    return npy_file(p, std::move(h), std::move(name));
  }

  const std::string& path() const noexcept { return path_; }
  int major_version() const noexcept { return header_.major_version; }
  int minor_version() const noexcept { return header_.minor_version; }
  const std::string& descr() const noexcept { return header_.descr; }
  dtype type() const noexcept { return header_.type; }
  byte_order order() const noexcept { return header_.order; }
  bool native_byte_order() const noexcept {
    return (header_.order == byte_order::little) == detail::host_is_little_endian();
  }
  bool fortran_order() const noexcept { return header_.fortran_order; }
  std::size_t rank() const noexcept { return header_.shape.size(); }
  const std::vector<index_t>& shape() const noexcept { return header_.shape; }
  const std::vector<index_t>& strides() const noexcept { return header_.strides; }
  std::uint64_t data_offset() const noexcept { return header_.data_offset; }
  std::uint64_t data_bytes() const noexcept { return header_.data_bytes; }
  const header& file_header() const noexcept { return header_; }
  const unsigned char* data() const noexcept { return bytes_ + header_.data_offset; }

  index_t rows() const noexcept { return header_.shape[0]; }
  // Elements per row: the product of shape[1:].
  index_t row_size() const noexcept {
    index_t n = 1;
    for (std::size_t r = 1; r < header_.shape.size(); ++r) n *= header_.shape[r];
    return n;
  }

  // Writes rows [first, first + count) of axis 0 to `out` as a C-order
  // [count, shape[1], ..., shape[rank-1]] block of T: float or double from any floating-point
  // file, memloc::half or memloc::bfloat16 from a file of that type (the bits as stored, so
  // 16-bit data reaches the library at half the size of floats), std::int64_t from integers.
  template <class T>
  void read_rows(index_t first, index_t count, T* out) const {
    constexpr bool sixteen_bit = std::is_same_v<T, half> || std::is_same_v<T, bfloat16>;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int64_t> || sixteen_bit,
                  "read_rows<T>: T is float, double, memloc::half, memloc::bfloat16, or std::int64_t for integer files");
    if (std::is_integral_v<T> != is_integer(type())) {
      throw logic_error(path_ + ": " + to_string(type()) + " data cannot be read as " +
                        (std::is_integral_v<T> ? "integers" : "floating point"));
    }
    if (sixteen_bit && type() != stored_type<T>()) {
      throw logic_error(path_ + ": " + to_string(type()) + " data cannot be read as " + to_string(stored_type<T>()));
    }
    if (first < 0 || count < 0 || first > rows() || count > rows() - first) {
      throw logic_error(path_ + ": rows [" + std::to_string(first) + ", " + std::to_string(first) + " + " +
                        std::to_string(count) + ") are outside [0, " + std::to_string(rows()) + ")");
    }
    const index_t rs = row_size();
    if (count == 0 || rs == 0) return;
    const std::size_t item = item_size(type());
    const bool swap = !native_byte_order();
    if (!fortran_order() || rank() == 1) {
      detail::convert(type(), swap, data() + static_cast<std::size_t>(first * rs) * item, item, count * rs, out);
      return;
    }
    // In Fortran order axis 0 is the contiguous one, so each trailing position holds the
    // requested rows as one run; walk the file in order and scatter into the C-order output.
    const std::size_t trailing = rank() - 1;
    std::vector<index_t> idx(trailing, 0);
    std::vector<index_t> out_stride(trailing, 1);
    for (std::size_t k = trailing - 1; k-- > 0;) out_stride[k] = out_stride[k + 1] * header_.shape[k + 2];
    const auto row_bytes = static_cast<std::size_t>(rows()) * item;
    const unsigned char* src = data() + static_cast<std::size_t>(first) * item;
    index_t out_off = 0;
    for (index_t j = 0; j < rs; ++j, src += row_bytes) {
      detail::convert(type(), swap, src, item, count, out + out_off, rs);
      for (std::size_t k = 0; k < trailing; ++k) {
        out_off += out_stride[k];
        if (++idx[k] < header_.shape[k + 1]) break;
        out_off -= idx[k] * out_stride[k];
        idx[k] = 0;
      }
    }
  }

 private:
  npy_file(const unsigned char* bytes, header h, std::string name)
      : path_(std::move(name)), bytes_(bytes), header_(std::move(h)) {}

  std::string path_;
  detail::mapping map_;
  const unsigned char* bytes_ = nullptr;
  header header_;
};

namespace detail {

// "batch_2" before "batch_10": digit runs compare by value, the rest byte by byte.
inline bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0;
  std::size_t j = 0;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      std::size_t i0 = i;
      std::size_t j0 = j;
      while (i0 < a.size() && a[i0] == '0') ++i0;
      while (j0 < b.size() && b[j0] == '0') ++j0;
      std::size_t i1 = i0;
      std::size_t j1 = j0;
      while (i1 < a.size() && digit(a[i1])) ++i1;
      while (j1 < b.size() && digit(b[j1])) ++j1;
      if (i1 - i0 != j1 - j0) return i1 - i0 < j1 - j0;
      const int c = a.compare(i0, i1 - i0, b, j0, j1 - j0);
      if (c != 0) return c < 0;
      i = i1;
      j = j1;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
    }
  }
  if ((a.size() - i) != (b.size() - j)) return a.size() - i < b.size() - j;
  return a < b;  // equal up to leading zeros: any fixed tie-break keeps the order total
}

}  // namespace detail

// Per-batch files read as one array concatenated along axis 0. All files must share the
// dtype, the memory order and shape[1:]; byte order may differ, since rows are converted.
class npy_stream {
 public:
  explicit npy_stream(const std::vector<std::string>& paths, const open_options& options = {}) {
    if (paths.empty()) throw io_error("npy stream: no files given");
    files_.reserve(paths.size());
    starts_.reserve(paths.size() + 1);
    starts_.push_back(0);
    for (const std::string& p : paths) {
      files_.emplace_back(p, options);
      const npy_file& f = files_.back();
      const npy_file& first = files_.front();
      if (f.type() != first.type()) {
        detail::fail(p, std::string("dtype ") + to_string(f.type()) + " differs from " + to_string(first.type()) +
                            " in " + first.path());
      }
      if (f.fortran_order() != first.fortran_order()) {
        detail::fail(p, std::string(f.fortran_order() ? "Fortran" : "C") + " order differs from " +
                            (first.fortran_order() ? "Fortran" : "C") + " order in " + first.path());
      }
      if (!std::equal(f.shape().begin() + 1, f.shape().end(), first.shape().begin() + 1, first.shape().end())) {
        detail::fail(p, "shape " + shape_string(f.shape()) + " differs from " + shape_string(first.shape()) +
                            " in " + first.path() + " beyond axis 0");
      }
      if (f.rows() > std::numeric_limits<index_t>::max() - starts_.back()) {
        detail::fail(p, "the stream's total row count overflows int64");
      }
      starts_.push_back(starts_.back() + f.rows());
    }
  }

  // Every regular *.npy file directly in `dir`, in natural name order.
  static npy_stream from_directory(const std::string& dir, const open_options& options = {}) {
    std::vector<std::string> paths;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->path().extension() == ".npy" && it->is_regular_file(ec)) paths.push_back(it->path().string());
    }
    if (ec) throw io_error(dir + ": cannot list directory: " + ec.message());
    if (paths.empty()) throw io_error(dir + ": no .npy files in directory");
    std::sort(paths.begin(), paths.end(), detail::natural_less);
    return npy_stream(paths, options);
  }

  // The files matching a shell pattern (POSIX glob), in natural name order.
  static npy_stream from_glob(const std::string& pattern, const open_options& options = {}) {
    glob_t g{};
    const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
    std::vector<std::string> paths;
    if (rc == 0) paths.assign(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    ::globfree(&g);
    if (rc == GLOB_NOMATCH || (rc == 0 && paths.empty())) throw io_error(pattern + ": no files match");
    if (rc != 0) throw io_error(pattern + ": glob failed");
    std::sort(paths.begin(), paths.end(), detail::natural_less);
    return npy_stream(paths, options);
  }

  std::size_t file_count() const noexcept { return files_.size(); }
  const npy_file& file(std::size_t i) const { return files_.at(i); }
  dtype type() const noexcept { return files_.front().type(); }
  bool fortran_order() const noexcept { return files_.front().fortran_order(); }
  index_t rows() const noexcept { return starts_.back(); }
  index_t row_size() const noexcept { return files_.front().row_size(); }
  // The logical shape of the concatenation: total rows, then the shared trailing shape.
  std::vector<index_t> shape() const {
    std::vector<index_t> s = files_.front().shape();
    s[0] = rows();
    return s;
  }
  // Index of the file holding row `row` (0 <= row < rows()).
  std::size_t file_of_row(index_t row) const {
    return static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), row) - starts_.begin()) - 1;
  }

  template <class T>
  void read_rows(index_t first, index_t count, T* out) const {
    if (first < 0 || count < 0 || first > rows() || count > rows() - first) {
      throw logic_error("npy stream: rows [" + std::to_string(first) + ", " + std::to_string(first) + " + " +
                        std::to_string(count) + ") are outside [0, " + std::to_string(rows()) + ")");
    }
    const index_t rs = row_size();
    while (count > 0) {
      const std::size_t i = file_of_row(first);
      const index_t local = first - starts_[i];
      const index_t n = std::min(count, files_[i].rows() - local);
      files_[i].read_rows(local, n, out);
      out += n * rs;
      first += n;
      count -= n;
    }
  }

 private:
  static std::string shape_string(const std::vector<index_t>& s) {
    std::string out = "(";
    for (std::size_t r = 0; r < s.size(); ++r) out += (r ? ", " : "") + std::to_string(s[r]);
    return out + (s.size() == 1 ? ",)" : ")");
  }

  std::vector<npy_file> files_;
  std::vector<index_t> starts_;
};

}  // namespace memloc::npy
