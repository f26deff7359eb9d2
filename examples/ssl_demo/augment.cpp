#include "augment.hpp"

#include <cmath>

namespace ssl_demo {

augmentation_policy fashion_policy() {
  augmentation_policy p;
  // Zoom is the side of the sampled field: sqrt(0.5) .. 1 keeps 50-100 % of the area.
  p.min_zoom = std::sqrt(0.5);
  p.max_zoom = 1.0;
  p.max_log_aspect = std::log(4.0 / 3.0);
  p.max_shift = 0.15;
  p.flip_probability = 0.5;
  p.erase_probability = 0.3;
  p.erase_side = 8;
  return p;
}

augmentation_policy digits_policy() {
  augmentation_policy p;
  p.min_zoom = 0.8;
  p.max_zoom = 1.15;
  p.max_shift = 0.2;
  p.max_rotation = 0.25;
  p.erase_probability = 0.3;
  p.erase_side = 2;
  return p;
}

namespace {

torch::Tensor uniform(std::int64_t n, double low, double high, at::Generator& generator) {
  return torch::empty({n}, torch::kFloat32).uniform_(low, high, generator);
}

// One resampling of the sampling grid: zoom and aspect (the resized crop), rotation, shift
// and flip; zeros outside, the background of these images.
torch::Tensor random_affine(const torch::Tensor& images, const augmentation_policy& p, at::Generator& generator) {
  const auto n = images.size(0);
  const auto zoom = uniform(n, p.min_zoom, p.max_zoom, generator);
  const auto aspect = torch::exp(uniform(n, -p.max_log_aspect, p.max_log_aspect, generator) * 0.5);
  const auto angle = uniform(n, -p.max_rotation, p.max_rotation, generator);
  const auto shift_x = uniform(n, -p.max_shift, p.max_shift, generator);
  const auto shift_y = uniform(n, -p.max_shift, p.max_shift, generator);
  const auto flip = 1.0 - 2.0 * (uniform(n, 0.0, 1.0, generator) < p.flip_probability).to(torch::kFloat32);
  const auto sx = zoom * aspect * flip, sy = zoom / aspect;
  const auto c = torch::cos(angle), s = torch::sin(angle);
  const auto theta = torch::stack({torch::stack({c * sx, -s * sy, shift_x}, 1), torch::stack({s * sx, c * sy, shift_y}, 1)}, 1);
  const auto grid = torch::nn::functional::affine_grid(theta, images.sizes().vec(), /*align_corners=*/false);
  return torch::nn::functional::grid_sample(
      images, grid,
      torch::nn::functional::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));
}

torch::Tensor random_intensity(const torch::Tensor& images, const augmentation_policy& p, at::Generator& generator) {
  const auto n = images.size(0);
  const auto apply = (uniform(n, 0.0, 1.0, generator) < 0.8).to(torch::kFloat32).view({n, 1, 1, 1});
  const auto contrast = 1.0 + apply * uniform(n, -p.contrast, p.contrast, generator).view({n, 1, 1, 1});
  const auto brightness = apply * uniform(n, -p.brightness, p.brightness, generator).view({n, 1, 1, 1});
  const auto noise = torch::randn(images.sizes(), generator, torch::kFloat32) * p.noise;
  return (images * contrast + brightness + noise).clamp(0.0, 1.0);
}

// Occlusion, the one augmentation that removes evidence instead of moving it.
torch::Tensor random_erasing(const torch::Tensor& images, const augmentation_policy& p, at::Generator& generator) {
  const auto n = images.size(0);
  const auto side = images.size(3);
  const auto rows = torch::arange(side).view({1, 1, side, 1});
  const auto cols = torch::arange(side).view({1, 1, 1, side});
  const auto span = side - p.erase_side + 1;
  const auto top = torch::randint(0, span, {n, 1, 1, 1}, generator);
  const auto left = torch::randint(0, span, {n, 1, 1, 1}, generator);
  const auto erase = (uniform(n, 0.0, 1.0, generator) < p.erase_probability).view({n, 1, 1, 1});
  const auto inside = (rows >= top) & (rows < top + p.erase_side) & (cols >= left) & (cols < left + p.erase_side) & erase;
  return images.masked_fill(inside, 0.0);
}

}  // namespace

torch::Tensor augment(const torch::Tensor& images, std::int64_t views, const augmentation_policy& policy, at::Generator& generator) {
  const auto repeated = images.repeat_interleave(views, 0);
  return random_erasing(random_intensity(random_affine(repeated, policy, generator), policy, generator), policy, generator)
      .contiguous();
}

}  // namespace ssl_demo
