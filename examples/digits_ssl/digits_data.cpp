#include "digits_data.hpp"

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <random>
#include <stdexcept>

#include <zlib.h>

namespace digits_ssl {

namespace {

// The whole decompressed file: it is 500 kB, and reading it at once keeps the parser simple.
std::string read_gzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw data_error("cannot open the digits file '" + path +
                             "' (Debian's python3-sklearn installs it; pass another with --data)");
  }
  std::string text;
  char buffer[1 << 16];
  int read = 0;
  while ((read = gzread(file, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(read));
  int code = Z_OK;
  const char* message = gzerror(file, &code);
  const std::string error = read < 0 ? std::string(message) : std::string();
  gzclose(file);
  if (read < 0) throw data_error("cannot decompress the digits file '" + path + "': " + error);
  return text;
}

}  // namespace

digit_set load_digits(const std::string& path) {
  const std::string text = read_gzip(path);
  std::vector<float> pixels;
  std::vector<std::int64_t> labels;
  std::size_t line_start = 0;
  std::int64_t line_number = 0;
  while (line_start < text.size()) {
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string::npos) line_end = text.size();
    ++line_number;
    const std::string line = text.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    if (line.empty()) continue;
    const auto where = "the digits file '" + path + "', line " + std::to_string(line_number);
    std::vector<double> fields;
    const char* cursor = line.c_str();
    while (true) {
      char* next = nullptr;
      const double value = std::strtod(cursor, &next);
      if (next == cursor) throw data_error(where + ": expected a number at column " + std::to_string(fields.size() + 1));
      fields.push_back(value);
      if (*next == '\0' || *next == '\r') break;
      if (*next != ',') throw data_error(where + ": expected ',' after column " + std::to_string(fields.size()));
      cursor = next + 1;
    }
    if (fields.size() != pixels_per_image + 1) {
      throw data_error(where + ": expected " + std::to_string(pixels_per_image + 1) + " columns (64 pixels and a label), found " +
                               std::to_string(fields.size()));
    }
    for (int p = 0; p < pixels_per_image; ++p) {
      const double value = fields[static_cast<std::size_t>(p)];
      if (!(value >= 0.0 && value <= 16.0)) {
        throw data_error(where + ": pixel " + std::to_string(p) + " should lie in [0, 16], found " + std::to_string(value));
      }
      pixels.push_back(static_cast<float>(value / 16.0));
    }
    const double label = fields.back();
    if (!(label >= 0.0 && label < digit_classes) || label != static_cast<double>(static_cast<int>(label))) {
      throw data_error(where + ": the label should be a digit 0..9, found " + std::to_string(label));
    }
    labels.push_back(static_cast<std::int64_t>(label));
  }
  if (labels.empty()) throw data_error("the digits file '" + path + "' holds no images");
  const auto n = static_cast<std::int64_t>(labels.size());
  digit_set set;
  set.images = torch::from_blob(pixels.data(), {n, 1, image_side, image_side}, torch::kFloat32).clone();
  set.labels = torch::from_blob(labels.data(), {n}, torch::kInt64).clone();
  return set;
}

namespace {

digit_set take(const digit_set& all, const std::vector<std::int64_t>& order, std::size_t first, std::size_t last) {
  const std::vector<std::int64_t> part(order.begin() + static_cast<std::ptrdiff_t>(first), order.begin() + static_cast<std::ptrdiff_t>(last));
  const auto index = torch::tensor(part, torch::kInt64);
  return {all.images.index_select(0, index).contiguous(), all.labels.index_select(0, index).contiguous()};
}

}  // namespace

split split_digits(const digit_set& all, double fraction, std::uint64_t seed) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(all.size()));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 generator(seed);
  std::shuffle(order.begin(), order.end(), generator);
  const auto kept = static_cast<std::size_t>(static_cast<double>(order.size()) * fraction);
  const std::size_t tenth = kept / 10;
  const std::size_t shared = kept - 2 * tenth;
  return {take(all, order, 0, shared), take(all, order, shared, shared + tenth), take(all, order, shared + tenth, kept)};
}

digit_set concatenate(const digit_set& a, const digit_set& b) {
  return {torch::cat({a.images, b.images}), torch::cat({a.labels, b.labels})};
}

}  // namespace digits_ssl
