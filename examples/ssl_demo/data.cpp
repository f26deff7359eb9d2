#include "data.hpp"

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <random>
#include <stdexcept>

#include <zlib.h>

namespace ssl_demo {

namespace {

// The whole decompressed file. gzread passes uncompressed files through unchanged, so an
// IDX file a user unpacked reads the same.
std::string read_gzip(const std::string& path, const std::string& what) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw data_error("cannot open " + what + " '" + path + "'");
  std::string bytes;
  std::vector<char> buffer(1 << 20);
  int read = 0;
  while ((read = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0) bytes.append(buffer.data(), static_cast<std::size_t>(read));
  int code = Z_OK;
  const char* message = gzerror(file, &code);
  const std::string error = read < 0 ? std::string(message) : std::string();
  gzclose(file);
  if (read < 0) throw data_error("cannot decompress " + what + " '" + path + "': " + error);
  return bytes;
}

std::uint32_t big_endian_u32(const std::string& bytes, std::size_t offset) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[offset + i]);
  return value;
}

std::string hex(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

// The header of an IDX file of unsigned bytes with `dimensions` dimensions, checked against
// the file's length; returns the dimensions.
std::vector<std::int64_t> idx_header(const std::string& bytes, const std::string& path, std::uint32_t dimensions) {
  const std::uint32_t magic = 0x00000800u | dimensions;
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(dimensions);
  // The magic first: a file of the wrong kind is named as such even when it is short.
  if (bytes.size() < 4 || big_endian_u32(bytes, 0) != magic) {
    throw data_error("the IDX file '" + path + "': expected the magic number " + hex(magic) + " (unsigned bytes, " +
                     std::to_string(dimensions) + " dimensions), found " +
                     (bytes.size() < 4 ? "a file of " + std::to_string(bytes.size()) + " bytes" : hex(big_endian_u32(bytes, 0))));
  }
  if (bytes.size() < header) {
    throw data_error("the IDX file '" + path + "': expected a header of " + std::to_string(header) + " bytes, found a file of " +
                     std::to_string(bytes.size()));
  }
  std::vector<std::int64_t> sizes;
  std::int64_t payload = 1;
  const auto available = static_cast<std::int64_t>(bytes.size() - header);
  for (std::uint32_t d = 0; d < dimensions; ++d) {
    sizes.push_back(big_endian_u32(bytes, 4 + 4 * d));
    // Stops before the product can overflow: anything past the file's length is an error anyway.
    payload = payload > available && sizes.back() > 0 ? available + 1 : payload * sizes.back();
  }
  if (available != payload) {
    throw data_error("the IDX file '" + path + "': expected " + std::to_string(payload) + " bytes of data after the header, found " +
                     std::to_string(bytes.size() - header));
  }
  return sizes;
}

}  // namespace

image_set load_idx(const std::string& images_path, const std::string& labels_path, std::int64_t classes, std::int64_t padded_side) {
  const std::string image_bytes = read_gzip(images_path, "the IDX image file");
  const std::string label_bytes = read_gzip(labels_path, "the IDX label file");
  const auto image_sizes = idx_header(image_bytes, images_path, 3);
  const auto label_sizes = idx_header(label_bytes, labels_path, 1);
  const auto n = image_sizes[0], rows = image_sizes[1], cols = image_sizes[2];
  if (n == 0) throw data_error("the IDX image file '" + images_path + "' holds no images");
  if (label_sizes[0] != n) {
    throw data_error("the IDX label file '" + labels_path + "': expected one label per image (" + std::to_string(n) + "), found " +
                     std::to_string(label_sizes[0]));
  }
  if (rows != cols || rows > padded_side) {
    throw data_error("the IDX image file '" + images_path + "': expected square images of side at most " + std::to_string(padded_side) +
                     ", found " + std::to_string(rows) + "x" + std::to_string(cols));
  }
  for (std::int64_t i = 0; i < n; ++i) {
    const auto label = static_cast<unsigned char>(label_bytes[8 + static_cast<std::size_t>(i)]);
    if (label >= classes) {
      throw data_error("the IDX label file '" + labels_path + "': label " + std::to_string(i) + " should lie in [0, " +
                       std::to_string(classes) + "), found " + std::to_string(label));
    }
  }
  const auto pixels = torch::from_blob(const_cast<char*>(image_bytes.data() + 16), {n, 1, rows, cols}, torch::kUInt8);
  const auto margin = (padded_side - rows) / 2;
  image_set set;
  set.images = torch::zeros({n, 1, padded_side, padded_side}, torch::kFloat32);
  set.images.narrow(2, margin, rows).narrow(3, margin, cols).copy_(pixels.to(torch::kFloat32).div_(255.0));
  set.labels = torch::from_blob(const_cast<char*>(label_bytes.data() + 8), {n}, torch::kUInt8).to(torch::kInt64);
  return set;
}

dataset load_fashion_mnist(const std::string& directory) {
  dataset data;
  data.name = "fashion-mnist";
  data.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  const auto classes = data.classes();
  constexpr std::int64_t side = 32;  // the paper's 32x32 input: ResNet9's pools then give its 16-8-4-2 sizes
  data.train = load_idx(directory + "/train-images-idx3-ubyte.gz", directory + "/train-labels-idx1-ubyte.gz", classes, side);
  data.held_out = load_idx(directory + "/t10k-images-idx3-ubyte.gz", directory + "/t10k-labels-idx1-ubyte.gz", classes, side);
  return data;
}

dataset load_digits(const std::string& path) {
  const std::string text = read_gzip(path, "the digits file");
  constexpr int side = 8, pixels_per_image = side * side, classes = 10;
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
    if (!(label >= 0.0 && label < classes) || label != static_cast<double>(static_cast<int>(label))) {
      throw data_error(where + ": the label should be a digit 0..9, found " + std::to_string(label));
    }
    labels.push_back(static_cast<std::int64_t>(label));
  }
  if (labels.empty()) throw data_error("the digits file '" + path + "' holds no images");
  const auto n = static_cast<std::int64_t>(labels.size());
  dataset data;
  data.name = "digits";
  data.class_names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  data.train.images = torch::from_blob(pixels.data(), {n, 1, side, side}, torch::kFloat32).clone();
  data.train.labels = torch::from_blob(labels.data(), {n}, torch::kInt64).clone();
  return data;
}

image_set select(const image_set& set, const std::vector<std::int64_t>& indices) {
  const auto index = torch::tensor(indices, torch::kInt64);
  return {set.images.index_select(0, index).contiguous(), set.labels.index_select(0, index).contiguous()};
}

namespace {

std::vector<std::int64_t> shuffled_indices(std::int64_t n, std::mt19937_64& generator) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), generator);
  return order;
}

std::vector<std::int64_t> slice(const std::vector<std::int64_t>& order, std::int64_t first, std::int64_t last) {
  return {order.begin() + first, order.begin() + last};
}

}  // namespace

split split_protocol(const dataset& data, std::int64_t subset, std::int64_t held_out, std::uint64_t seed) {
  const bool own_held_out = data.held_out_pool() > 0;
  const auto pool = data.train.size();
  const auto needed = subset + (own_held_out ? 0 : held_out);
  if (subset < 10 || held_out < 1 || needed > pool) {
    throw data_error(data.name + ": expected a subset of at least 10 images and at least 1 held-out image, " +
                     std::to_string(needed) + " in all from the " + std::to_string(pool) + " training images, got subset " +
                     std::to_string(subset) + " and held-out " + std::to_string(held_out));
  }
  if (own_held_out && held_out > data.held_out.size()) {
    throw data_error(data.name + ": expected at most " + std::to_string(data.held_out.size()) + " held-out images, got " +
                     std::to_string(held_out));
  }
  std::mt19937_64 generator(seed);
  const auto order = shuffled_indices(pool, generator);
  const std::int64_t tenth = subset / 10;
  const std::int64_t shared = subset - 2 * tenth;
  split parts;
  parts.shared = select(data.train, slice(order, 0, shared));
  parts.candidate = select(data.train, slice(order, shared, shared + tenth));
  parts.independent = select(data.train, slice(order, shared + tenth, shared + 2 * tenth));
  if (own_held_out) {
    parts.held_out = select(data.held_out, slice(shuffled_indices(data.held_out.size(), generator), 0, held_out));
  } else {
    parts.held_out = select(data.train, slice(order, subset, subset + held_out));
  }
  return parts;
}

image_set concatenate(const image_set& a, const image_set& b) {
  return {torch::cat({a.images, b.images}), torch::cat({a.labels, b.labels})};
}

}  // namespace ssl_demo
