#pragma once

// SimCLR-style augmentations in pixel space, drawn from an explicit generator so that f and
// g, trained side by side in two threads, each draw the same stream (spec §1.2: same
// initial weights and random stream). The same function makes the training views and the
// measurement views, as UnitMem and SSLMem ask for the training augmentations.

#include <cstdint>

#include <torch/torch.h>

namespace ssl_demo {

struct augmentation_policy {
  // Random resized crop as one affine resampling: the sampled field's side relative to the
  // image (> 1 zooms out), its aspect ratio, and a shift in units of half the image.
  double min_zoom = 0.8, max_zoom = 1.0;
  double max_log_aspect = 0.0;
  double max_shift = 0.0;
  double max_rotation = 0.0;  // radians
  double flip_probability = 0.0;
  // Colour jitter has only intensity to act on: contrast and brightness, with probability
  // 0.8 as SimCLR's ColorJitter, then Gaussian pixel noise.
  double contrast = 0.4, brightness = 0.2, noise = 0.05;
  // Random erasing: a square of `erase_side` pixels set to 0, with this probability.
  double erase_probability = 0.0;
  std::int64_t erase_side = 2;
};

// Fashion-MNIST: crops of 50-100 % of the area, aspect 3/4-4/3, horizontal flips (clothing
// mirrors fine), intensity jitter, noise and an 8x8 erasing.
augmentation_policy fashion_policy();

// Digits: zoom 0.8-1.15, rotation ±0.25 rad, shift ±10 %, no flips (a mirrored 2, 3, 4, 5,
// 6, 7 or 9 is not a digit), intensity jitter, noise and a 2x2 erasing.
augmentation_policy digits_policy();

// `views` augmentations of every image of `images` [n, 1, s, s], returned as [n * views, 1, s, s]
// with the views of one image adjacent (image i's views at rows i*views .. i*views + views - 1),
// the sample-major order memloc's nchw_sample_major view reads.
torch::Tensor augment(const torch::Tensor& images, std::int64_t views, const augmentation_policy& policy, at::Generator& generator);

}  // namespace ssl_demo
