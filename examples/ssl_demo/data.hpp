#pragma once

// The demo's image data and the disjoint sets of the paper's protocol (spec §1.2).
//
// Two sources: Fashion-MNIST (Debian's dataset-fashion-mnist, gzip-compressed IDX files,
// the default) and the 1 797 scikit-learn digits (python3-sklearn's digits.csv.gz). Both
// are read with zlib, so the demo needs no Python at run time.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace ssl_demo {

inline const char* const default_fashion_mnist_directory = "/usr/share/datasets/fashion-mnist";
inline const char* const default_digits_path = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";

struct image_set {
  torch::Tensor images;  // [n, 1, side, side], float, intensities in [0, 1]
  torch::Tensor labels;  // [n], int64, in [0, classes)
  std::int64_t size() const { return images.size(0); }
};

// A dataset as the protocol sees it: a pool to draw the training subset from, and a pool of
// held-out images that neither encoder may see (Fashion-MNIST's test split). `held_out` is
// empty when the source has no test split (the digits); the split then takes the held-out
// images from the training pool, after the subset.
struct dataset {
  std::string name;
  image_set train, held_out;
  std::vector<std::string> class_names;
  std::int64_t classes() const { return static_cast<std::int64_t>(class_names.size()); }
  // Images in the held-out pool; 0 when the source has none.
  std::int64_t held_out_pool() const { return held_out.images.defined() ? held_out.size() : 0; }
};

// A missing, unreadable or malformed data file: bad input, not a bug.
struct data_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One pair of IDX files (unsigned bytes: images of magic 0x00000803 [n, rows, cols], labels
// of magic 0x00000801 [n]), gzip-compressed or not. Images are scaled to [0, 1] and
// zero-padded to `padded_side` (>= their side; the background of MNIST-like images is 0).
// Throws data_error naming the file, the field, what was expected and what was found.
image_set load_idx(const std::string& images_path, const std::string& labels_path, std::int64_t classes,
                   std::int64_t padded_side);

// Fashion-MNIST from `directory` (train-*/t10k-*-idx?-ubyte.gz), padded from 28 to 32 pixels.
dataset load_fashion_mnist(const std::string& directory);

// The digits' CSV: 64 intensities in 0..16 and a label per line, scaled to [0, 1], 8x8.
dataset load_digits(const std::string& path);

// Spec §1.2: f trains on shared + candidate, g on shared + independent; memorization is
// measured on the candidates, which only f saw, against the held-out images, which neither saw.
struct split {
  image_set shared, candidate, independent, held_out;
};

// A seeded shuffle of the training pool, its first `subset` images split 80 % / 10 % / 10 %,
// and `held_out` images drawn (seeded) from the held-out pool, or from the training pool
// after the subset when the dataset has none. Throws data_error when the pools are too small.
split split_protocol(const dataset& data, std::int64_t subset, std::int64_t held_out, std::uint64_t seed);

image_set concatenate(const image_set& a, const image_set& b);
image_set select(const image_set& set, const std::vector<std::int64_t>& indices);

}  // namespace ssl_demo
