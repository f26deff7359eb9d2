#include "model.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ssl_demo {

architecture resnet9(double width_multiplier) {
  if (!(width_multiplier > 0.0 && width_multiplier <= 4.0)) {
    throw std::invalid_argument("width multiplier: expected a number in (0, 4], got " + std::to_string(width_multiplier));
  }
  const std::array<std::int64_t, 8> paper{32, 64, 64, 64, 128, 256, 256, 256};
  architecture arch;
  arch.name = "resnet9";
  arch.input_side = 32;
  for (std::size_t i = 0; i < paper.size(); ++i) {
    arch.widths[i] = std::max<std::int64_t>(1, std::llround(static_cast<double>(paper[i]) * width_multiplier));
  }
  arch.pool_after = {true, true, false, false, true, true, false, false};
  arch.projection_width = 64;
  return arch;
}

architecture digits_resnet() {
  architecture arch;
  arch.name = "digits_resnet";
  arch.input_side = 8;
  arch.widths = {16, 32, 32, 32, 64, 64, 64, 64};
  arch.pool_after = {false, true, false, false, true, false, false, false};
  arch.projection_width = 32;
  return arch;
}

std::vector<measurement_point_info> measurement_points(const architecture& arch) {
  std::vector<measurement_point_info> points;
  std::int64_t side = arch.input_side;
  for (std::size_t i = 0; i < arch.widths.size(); ++i) {
    points.push_back({std::to_string(i + 1), true, arch.widths[i], side, side});
    if (arch.pool_after[i]) side /= 2;
    // Each residual sum follows the second conv of its pair, at that conv's shape.
    if (i == 3) points.push_back({"Res2", false, arch.widths[3], side, side});
    if (i == 7) points.push_back({"Res6", false, arch.widths[7], side, side});
  }
  return points;
}

conv_block_impl::conv_block_impl(std::int64_t in, std::int64_t out)
    : conv_(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false)))),
      norm_(register_module("norm", torch::nn::BatchNorm2d(out))) {}

torch::Tensor conv_block_impl::forward(const torch::Tensor& x) { return torch::relu(norm_(conv_(x))); }

encoder_impl::encoder_impl(const architecture& arch) : arch_(arch), points_(measurement_points(arch)) {
  // A residual sum adds two blocks' outputs, so each pair must agree in width and size.
  if (arch.widths[1] != arch.widths[3] || arch.widths[5] != arch.widths[7] || arch.pool_after[2] || arch.pool_after[3] ||
      arch.pool_after[6] || arch.pool_after[7]) {
    throw std::invalid_argument("architecture " + arch.name + ": residual pairs (2, 4) and (6, 8) need equal widths and no pool inside");
  }
  std::int64_t in = 1;
  for (std::size_t i = 0; i < arch.widths.size(); ++i) {
    convs_.push_back(register_module("conv" + std::to_string(i + 1), conv_block(in, arch.widths[i])));
    in = arch.widths[i];
  }
}

torch::Tensor encoder_impl::forward(const torch::Tensor& images, activation_observer* observer) {
  std::size_t point = 0;
  auto observed = [&](torch::Tensor activation) {
    if (observer != nullptr) observer->observe(point, activation);
    ++point;
    return activation;
  };
  // A conv point is the block's output before its pool; the next block and the skip see
  // the pooled tensor.
  auto block = [&](std::size_t i, const torch::Tensor& x) {
    auto y = observed(convs_[i](x));
    return arch_.pool_after[i] ? torch::max_pool2d(y, 2) : y;
  };
  auto x = block(0, images);
  x = block(1, x);
  const auto skip2 = x;
  x = block(2, x);
  x = block(3, x);
  x = observed(x + skip2);  // Res2
  x = block(4, x);
  x = block(5, x);
  const auto skip6 = x;
  x = block(6, x);
  x = block(7, x);
  x = observed(x + skip6);  // Res6
  return x.mean({2, 3});
}

projection_head_impl::projection_head_impl(const architecture& arch)
    : hidden_(register_module("hidden", torch::nn::Linear(arch.widths[7], arch.widths[7]))),
      out_(register_module("out", torch::nn::Linear(arch.widths[7], arch.projection_width))) {}

torch::Tensor projection_head_impl::forward(const torch::Tensor& representation) {
  return out_(torch::relu(hidden_(representation)));
}

}  // namespace ssl_demo
