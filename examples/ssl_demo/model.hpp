#pragma once

// The paper's ResNet9 shape (spec §2.2): eight conv3x3-BN-ReLU blocks, max-pools after some
// of them, residual sums Res2 = conv 4 + (pooled) conv 2 and Res6 = conv 8 + (pooled) conv 6,
// the 10 measurement points of LOC Table 1. The forward pass reports every point to an
// observer, which is how memloc sees activations: libtorch's C++ modules have no forward
// hooks, so the hook is part of the forward.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace ssl_demo {

struct architecture {
  std::string name;
  std::int64_t input_side = 0;
  std::array<std::int64_t, 8> widths{};  // channels of conv 1..8
  std::array<bool, 8> pool_after{};      // a 2x2 max-pool after the block
  std::int64_t projection_width = 0;     // SimCLR head's output
};

// The paper's ResNet9 on 32x32 inputs (widths 32, 64, 64, 64, 128, 256, 256, 256, pools
// after conv 1, 2, 5, 6, so points at 32, 16, 8, 8, 8, 8, 4, 2, 2, 2 pixels), every width
// multiplied by `width_multiplier` (rounded, at least 1).
architecture resnet9(double width_multiplier);

// The same eight blocks sized for 8x8 digits: widths 16, 32, 32, 32, 64, 64, 64, 64 and
// pools after conv 2 and 5 only, since three pools would leave a single pixel.
architecture digits_resnet();

struct measurement_point_info {
  std::string name;  // as the rows of LOC Table 1: "1".."8" for convs, "ResN" for sums
  bool is_conv = false;
  std::int64_t channels = 0, height = 0, width = 0;
  std::int64_t features() const { return channels * height * width; }
};

// The points of `arch` in forward order.
std::vector<measurement_point_info> measurement_points(const architecture& arch);

// Receives each point's activation during a forward pass: [batch, C, H, W], float, on the
// CPU. The tensor is only valid for the call unless the observer keeps a reference.
class activation_observer {
 public:
  virtual ~activation_observer() = default;
  virtual void observe(std::size_t point, const torch::Tensor& activation) = 0;
};

class conv_block_impl : public torch::nn::Module {
 public:
  conv_block_impl(std::int64_t in, std::int64_t out);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d norm_{nullptr};
};
TORCH_MODULE_IMPL(conv_block, conv_block_impl);

class encoder_impl : public torch::nn::Module {
 public:
  explicit encoder_impl(const architecture& arch);
  // [batch, 1, side, side] -> [batch, conv 8's width], the global average of the last point.
  torch::Tensor forward(const torch::Tensor& images, activation_observer* observer = nullptr);
  const architecture& arch() const { return arch_; }
  const std::vector<measurement_point_info>& points() const { return points_; }

 private:
  architecture arch_;
  std::vector<measurement_point_info> points_;
  std::vector<conv_block> convs_;
};
TORCH_MODULE_IMPL(encoder, encoder_impl);

// SimCLR's projection head: the loss is taken after it, the measurements before it.
class projection_head_impl : public torch::nn::Module {
 public:
  explicit projection_head_impl(const architecture& arch);
  torch::Tensor forward(const torch::Tensor& representation);

 private:
  torch::nn::Linear hidden_{nullptr}, out_{nullptr};
};
TORCH_MODULE_IMPL(projection_head, projection_head_impl);

}  // namespace ssl_demo
