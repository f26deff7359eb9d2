// The demo's data path: the IDX reader on files this test writes (gzip-compressed and
// plain), its errors, and the protocol's split.

#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>
#include <zlib.h>

#include "data.hpp"

namespace {

using ssl_demo::data_error;

std::string big_endian(std::uint32_t value) {
  std::string bytes(4, '\0');
  for (int i = 3; i >= 0; --i, value >>= 8) bytes[static_cast<std::size_t>(i)] = static_cast<char>(value & 0xff);
  return bytes;
}

std::string idx(std::uint32_t magic, const std::vector<std::uint32_t>& sizes, const std::vector<std::uint8_t>& payload) {
  std::string bytes = big_endian(magic);
  for (const auto s : sizes) bytes += big_endian(s);
  bytes.append(payload.begin(), payload.end());
  return bytes;
}

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    path = std::filesystem::temp_directory_path() / ("memloc_ssl_demo_data_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& bytes, bool compressed) const {
    const auto file = (path / name).string();
    if (compressed) {
      gzFile gz = gzopen(file.c_str(), "wb");
      REQUIRE(gz != nullptr);
      REQUIRE(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
      gzclose(gz);
    } else {
      std::ofstream(file, std::ios::binary) << bytes;
    }
    return file;
  }
};

// Three 2x2 images whose pixels count up from 0, labels 2, 0, 1.
std::vector<std::uint8_t> three_images() { return {0, 51, 102, 255, 10, 20, 30, 40, 255, 255, 0, 0}; }

void require_error_mentions(const std::function<void()>& call, const std::vector<std::string>& parts) {
  try {
    call();
    FAIL("expected a data_error");
  } catch (const data_error& e) {
    const std::string message = e.what();
    for (const auto& part : parts) CHECK_MESSAGE(message.find(part) != std::string::npos, message, " lacks '", part, "'");
  }
}

}  // namespace

TEST_CASE("IDX files are read, scaled to [0, 1] and zero-padded, compressed or not") {
  const temp_dir dir;
  for (const bool compressed : {true, false}) {
    CAPTURE(compressed);
    const auto images = dir.write("images", idx(0x803, {3, 2, 2}, three_images()), compressed);
    const auto labels = dir.write("labels", idx(0x801, {3}, {2, 0, 1}), compressed);
    const auto set = ssl_demo::load_idx(images, labels, 3, 4);
    REQUIRE(set.images.sizes().vec() == std::vector<std::int64_t>{3, 1, 4, 4});
    CHECK(set.labels.sizes().vec() == std::vector<std::int64_t>{3});
    CHECK(set.labels[0].item<std::int64_t>() == 2);
    CHECK(set.labels[1].item<std::int64_t>() == 0);
    CHECK(set.labels[2].item<std::int64_t>() == 1);
    // A one-pixel zero border around each 2x2 image.
    CHECK(set.images[0][0][0].sum().item<float>() == 0.0f);
    CHECK(set.images[0][0][1][1].item<float>() == doctest::Approx(0.0));
    CHECK(set.images[0][0][1][2].item<float>() == doctest::Approx(0.2));
    CHECK(set.images[0][0][2][1].item<float>() == doctest::Approx(0.4));
    CHECK(set.images[0][0][2][2].item<float>() == doctest::Approx(1.0));
    CHECK(set.images[2][0][1][1].item<float>() == doctest::Approx(1.0));
    CHECK(set.images.sum().item<float>() == doctest::Approx((0 + 51 + 102 + 255 + 10 + 20 + 30 + 40 + 255 + 255) / 255.0));
  }
}

TEST_CASE("malformed IDX files are refused with the file, the field and the values") {
  const temp_dir dir;
  const auto good_images = dir.write("images.gz", idx(0x803, {3, 2, 2}, three_images()), true);
  const auto good_labels = dir.write("labels.gz", idx(0x801, {3}, {2, 0, 1}), true);
  SUBCASE("missing file") {
    require_error_mentions([&] { ssl_demo::load_idx((dir.path / "absent").string(), good_labels, 3, 4); }, {"cannot open", "absent"});
  }
  SUBCASE("wrong magic: a label file given as images") {
    require_error_mentions([&] { ssl_demo::load_idx(good_labels, good_labels, 3, 4); }, {"labels.gz", "0x00000803", "0x00000801"});
  }
  SUBCASE("truncated header") {
    const auto file = dir.write("short.gz", big_endian(0x803), true);
    require_error_mentions([&] { ssl_demo::load_idx(file, good_labels, 3, 4); }, {"short.gz", "header of 16 bytes", "4"});
  }
  SUBCASE("truncated data") {
    auto pixels = three_images();
    pixels.pop_back();
    const auto file = dir.write("cut.gz", idx(0x803, {3, 2, 2}, pixels), true);
    require_error_mentions([&] { ssl_demo::load_idx(file, good_labels, 3, 4); }, {"cut.gz", "expected 12 bytes", "found 11"});
  }
  SUBCASE("label count differs from image count") {
    const auto file = dir.write("two_labels.gz", idx(0x801, {2}, {0, 1}), true);
    require_error_mentions([&] { ssl_demo::load_idx(good_images, file, 3, 4); }, {"two_labels.gz", "(3)", "found 2"});
  }
  SUBCASE("label out of range") {
    const auto file = dir.write("big_label.gz", idx(0x801, {3}, {0, 7, 1}), true);
    require_error_mentions([&] { ssl_demo::load_idx(good_images, file, 3, 4); }, {"big_label.gz", "label 1", "[0, 3)", "found 7"});
  }
  SUBCASE("images larger than the padded side") {
    require_error_mentions([&] { ssl_demo::load_idx(good_images, good_labels, 3, 1); }, {"images.gz", "at most 1", "2x2"});
  }
  SUBCASE("no images") {
    const auto images = dir.write("empty_images.gz", idx(0x803, {0, 2, 2}, {}), true);
    const auto labels = dir.write("empty_labels.gz", idx(0x801, {0}, {}), true);
    require_error_mentions([&] { ssl_demo::load_idx(images, labels, 3, 4); }, {"empty_images.gz", "no images"});
  }
  SUBCASE("not gzip and not IDX") {
    const auto file = dir.write("text", "hello, world, this is not an IDX file", false);
    require_error_mentions([&] { ssl_demo::load_idx(file, good_labels, 3, 4); }, {"text", "magic number"});
  }
}

namespace {

// n images whose first pixel is their index, so that sets can be told apart.
ssl_demo::image_set numbered(std::int64_t n, std::int64_t offset) {
  ssl_demo::image_set set;
  set.images = torch::zeros({n, 1, 2, 2});
  set.images.select(3, 0).select(2, 0).select(1, 0).copy_(torch::arange(offset, offset + n, torch::kFloat32));
  set.labels = torch::arange(n, torch::kInt64).remainder(3);
  return set;
}

std::set<std::int64_t> ids_of(const ssl_demo::image_set& set) {
  std::set<std::int64_t> ids;
  for (std::int64_t i = 0; i < set.size(); ++i) ids.insert(static_cast<std::int64_t>(set.images[i][0][0][0].item<float>()));
  return ids;
}

}  // namespace

TEST_CASE("the protocol's split: 80/10/10 of a seeded subset, disjoint, plus held-out images neither encoder sees") {
  ssl_demo::dataset data;
  data.name = "numbers";
  data.class_names = {"a", "b", "c"};
  data.train = numbered(1000, 0);
  SUBCASE("held-out images from the test pool") {
    data.held_out = numbered(300, 5000);
    const auto parts = ssl_demo::split_protocol(data, 500, 50, 7);
    CHECK(parts.shared.size() == 400);
    CHECK(parts.candidate.size() == 50);
    CHECK(parts.independent.size() == 50);
    CHECK(parts.held_out.size() == 50);
    std::set<std::int64_t> all;
    for (const auto* set : {&parts.shared, &parts.candidate, &parts.independent}) {
      for (const auto id : ids_of(*set)) {
        CHECK(id < 1000);
        CHECK(all.insert(id).second);
      }
    }
    for (const auto id : ids_of(parts.held_out)) CHECK(id >= 5000);
    CHECK(ids_of(parts.held_out).size() == 50);
    // Seeded: the same seed gives the same sets, another seed other ones.
    CHECK(ids_of(ssl_demo::split_protocol(data, 500, 50, 7).candidate) == ids_of(parts.candidate));
    CHECK(ids_of(ssl_demo::split_protocol(data, 500, 50, 8).candidate) != ids_of(parts.candidate));
  }
  SUBCASE("held-out images after the subset when there is no test pool") {
    const auto parts = ssl_demo::split_protocol(data, 900, 100, 7);
    std::set<std::int64_t> all;
    for (const auto* set : {&parts.shared, &parts.candidate, &parts.independent, &parts.held_out}) {
      for (const auto id : ids_of(*set)) CHECK(all.insert(id).second);
    }
    CHECK(all.size() == 1000);
    CHECK(parts.held_out.size() == 100);
  }
  SUBCASE("pools too small") {
    require_error_mentions([&] { ssl_demo::split_protocol(data, 950, 100, 7); }, {"numbers", "1050", "1000", "subset 950", "held-out 100"});
    data.held_out = numbered(30, 5000);
    require_error_mentions([&] { ssl_demo::split_protocol(data, 500, 50, 7); }, {"numbers", "at most 30", "got 50"});
    require_error_mentions([&] { ssl_demo::split_protocol(data, 5, 1, 7); }, {"at least 10", "subset 5"});
  }
}
