#pragma once

// A small residual CNN in the spirit of the paper's ResNet9 (spec §2.2), sized for 8x8
// digits: eight conv-BN-ReLU blocks, two residual sums, two max-pools. The forward pass
// reports every measurement point to an observer, which is how memloc sees activations:
// libtorch's C++ modules have no forward hooks, so the hook is part of the forward.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace digits_ssl {

struct measurement_point_info {
  std::string name;  // as the rows of LOC Table 1: "1".."8" for convs, "ResN" for sums
  bool is_conv = false;
  std::int64_t channels = 0, height = 0, width = 0;
  std::int64_t features() const { return channels * height * width; }
};

// The points in forward order; the same list for every encoder of this architecture.
const std::vector<measurement_point_info>& measurement_points();

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
  encoder_impl();
  // [batch, 1, 8, 8] -> [batch, 64], the global average of the last point.
  torch::Tensor forward(const torch::Tensor& images, activation_observer* observer = nullptr);

 private:
  std::vector<conv_block> convs_;
};
TORCH_MODULE_IMPL(encoder, encoder_impl);

// SimCLR's projection head: the loss is taken after it, the measurements before it.
class projection_head_impl : public torch::nn::Module {
 public:
  projection_head_impl();
  torch::Tensor forward(const torch::Tensor& representation);

 private:
  torch::nn::Linear hidden_{nullptr}, out_{nullptr};
};
TORCH_MODULE_IMPL(projection_head, projection_head_impl);

}  // namespace digits_ssl
