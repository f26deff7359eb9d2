#include "augment.hpp"

#include <cmath>

namespace digits_ssl {

namespace {

// Random resized crop and small rotation in one resampling: a random affine map of the
// sampling grid (scale, rotation, shift), zeros outside the image, which is the
// background of these digits.
torch::Tensor random_affine(const torch::Tensor& images) {
  const auto n = images.size(0);
  const auto options = torch::TensorOptions().dtype(torch::kFloat32);
  const auto zoom = torch::empty({n}, options).uniform_(0.8, 1.15);  // >1 samples a wider field: the digit shrinks
  const auto angle = torch::empty({n}, options).uniform_(-0.25, 0.25);  // radians, about ±14°
  const auto shift = torch::empty({n, 2}, options).uniform_(-0.2, 0.2);  // in units of half the image
  const auto c = torch::cos(angle) * zoom, s = torch::sin(angle) * zoom;
  const auto theta = torch::stack({torch::stack({c, -s, shift.select(1, 0)}, 1), torch::stack({s, c, shift.select(1, 1)}, 1)}, 1);
  const auto grid = torch::nn::functional::affine_grid(theta, images.sizes().vec(), /*align_corners=*/false);
  return torch::nn::functional::grid_sample(
      images, grid,
      torch::nn::functional::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));
}

// Colour jitter has only intensity to act on here: contrast and brightness per image, applied
// with probability 0.8 as SimCLR's ColorJitter, then a little pixel noise.
torch::Tensor random_intensity(const torch::Tensor& images) {
  const auto n = images.size(0);
  const auto apply = (torch::rand({n, 1, 1, 1}) < 0.8).to(torch::kFloat32);
  const auto contrast = 1.0 + apply * torch::empty({n, 1, 1, 1}).uniform_(-0.4, 0.4);
  const auto brightness = apply * torch::empty({n, 1, 1, 1}).uniform_(-0.2, 0.2);
  const auto noise = 0.05 * torch::randn_like(images);
  return (images * contrast + brightness + noise).clamp(0.0, 1.0);
}

// Random erasing of one 2x2 patch with probability 0.3: occlusion, the one augmentation
// that removes evidence instead of moving it.
torch::Tensor random_erasing(const torch::Tensor& images) {
  const auto n = images.size(0);
  const auto side = images.size(3);
  const auto rows = torch::arange(side).view({1, 1, side, 1});
  const auto cols = torch::arange(side).view({1, 1, 1, side});
  const auto top = torch::randint(0, side - 1, {n, 1, 1, 1});
  const auto left = torch::randint(0, side - 1, {n, 1, 1, 1});
  const auto erase = (torch::rand({n, 1, 1, 1}) < 0.3);
  const auto inside = (rows >= top) & (rows < top + 2) & (cols >= left) & (cols < left + 2) & erase;
  return images.masked_fill(inside, 0.0);
}

}  // namespace

torch::Tensor augment(const torch::Tensor& images, std::int64_t views) {
  const auto repeated = images.repeat_interleave(views, 0);
  return random_erasing(random_intensity(random_affine(repeated))).contiguous();
}

}  // namespace digits_ssl
