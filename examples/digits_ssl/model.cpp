#include "model.hpp"

namespace digits_ssl {

namespace {

// Channels of conv 1..8; the two 64-wide residual pairs mirror ResNet9's layer1/layer3.
const std::int64_t conv_widths[8] = {16, 32, 32, 32, 64, 64, 64, 64};
constexpr std::int64_t representation_width = 64;

}  // namespace

const std::vector<measurement_point_info>& measurement_points() {
  static const std::vector<measurement_point_info> points{
      {"1", true, 16, 8, 8},     {"2", true, 32, 8, 8},     {"3", true, 32, 4, 4},      {"4", true, 32, 4, 4},
      {"Res2", false, 32, 4, 4}, {"5", true, 64, 4, 4},     {"6", true, 64, 2, 2},      {"7", true, 64, 2, 2},
      {"8", true, 64, 2, 2},     {"Res6", false, 64, 2, 2},
  };
  return points;
}

conv_block_impl::conv_block_impl(std::int64_t in, std::int64_t out)
    : conv_(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false)))),
      norm_(register_module("norm", torch::nn::BatchNorm2d(out))) {}

torch::Tensor conv_block_impl::forward(const torch::Tensor& x) { return torch::relu(norm_(conv_(x))); }

encoder_impl::encoder_impl() {
  std::int64_t in = 1;
  for (int i = 0; i < 8; ++i) {
    convs_.push_back(register_module("conv" + std::to_string(i + 1), conv_block(in, conv_widths[i])));
    in = conv_widths[i];
  }
}

torch::Tensor encoder_impl::forward(const torch::Tensor& images, activation_observer* observer) {
  std::size_t point = 0;
  auto observed = [&](torch::Tensor activation) {
    if (observer != nullptr) observer->observe(point, activation);
    ++point;
    return activation;
  };
  auto x = observed(convs_[0](images));                          // 1: 8x8
  x = torch::max_pool2d(observed(convs_[1](x)), 2);              // 2: 8x8, pooled to 4x4
  const auto skip2 = x;
  x = observed(convs_[2](x));                                    // 3
  x = observed(convs_[3](x));                                    // 4
  x = observed(x + skip2);                                       // Res2: 4 + pooled 2
  x = torch::max_pool2d(observed(convs_[4](x)), 2);              // 5: 4x4, pooled to 2x2
  x = observed(convs_[5](x));                                    // 6
  const auto skip6 = x;
  x = observed(convs_[6](x));                                    // 7
  x = observed(convs_[7](x));                                    // 8
  x = observed(x + skip6);                                       // Res6: 8 + 6
  return x.mean({2, 3});
}

projection_head_impl::projection_head_impl()
    : hidden_(register_module("hidden", torch::nn::Linear(representation_width, representation_width))),
      out_(register_module("out", torch::nn::Linear(representation_width, 32))) {}

torch::Tensor projection_head_impl::forward(const torch::Tensor& representation) {
  return out_(torch::relu(hidden_(representation)));
}

}  // namespace digits_ssl
