#pragma once

// The 1 797 handwritten digits scikit-learn ships (8x8 images, intensities 0..16), read
// from its gzip-compressed CSV with zlib, and the disjoint splits of spec §1.2.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace digits_ssl {

inline constexpr int image_side = 8;
inline constexpr int pixels_per_image = image_side * image_side;
inline constexpr int digit_classes = 10;

// The CSV Debian's python3-sklearn installs.
inline const char* const default_digits_path = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";

struct digit_set {
  torch::Tensor images;  // [n, 1, 8, 8], float, intensities scaled to [0, 1]
  torch::Tensor labels;  // [n], int64
  std::int64_t size() const { return images.size(0); }
};

// A missing, unreadable or malformed digits file: bad input, not a bug.
struct data_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws data_error naming the file, the line and what was expected.
digit_set load_digits(const std::string& path);

// Spec §1.2: f trains on shared + candidate, g on shared + independent; memorization is
// measured on the candidates, which only f saw.
struct split {
  digit_set shared, candidate, independent;
};

// A seeded shuffle, then 80 % / 10 % / 10 %. `fraction` < 1 keeps only the first part of
// the shuffled set before splitting (the quick mode), so the proportions stay the same.
split split_digits(const digit_set& all, double fraction, std::uint64_t seed);

digit_set concatenate(const digit_set& a, const digit_set& b);

}  // namespace digits_ssl
