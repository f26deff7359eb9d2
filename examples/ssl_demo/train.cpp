#include "train.hpp"

#include <algorithm>
#include <vector>

namespace ssl_demo {

namespace {

// NT-Xent over 2B projections whose rows 2i and 2i+1 are the two views of image i: each
// row's positive is its partner, its negatives every other row of the batch.
torch::Tensor nt_xent(const torch::Tensor& projections, double temperature) {
  const auto z = torch::nn::functional::normalize(projections, torch::nn::functional::NormalizeFuncOptions().dim(1));
  const auto rows = z.size(0);
  auto similarity = torch::matmul(z, z.t()) / temperature;
  similarity = similarity.masked_fill(torch::eye(rows, torch::kBool), -1e9);
  const auto partner = torch::arange(rows, torch::kInt64).bitwise_xor(1);
  return torch::nn::functional::cross_entropy(similarity, partner);
}

}  // namespace

void train_simclr(encoder& net, projection_head& head, const image_set& data, const training_setup& setup,
                  const augmentation_policy& policy, at::Generator generator, const epoch_callback& after_epoch) {
  std::vector<torch::Tensor> parameters = net->parameters();
  for (const auto& p : head->parameters()) parameters.push_back(p);
  torch::optim::Adam optimizer(parameters, torch::optim::AdamOptions(setup.learning_rate).weight_decay(1e-5));
  net->train();
  head->train();
  const auto n = data.size();
  for (std::int64_t epoch = 1; epoch <= setup.epochs; ++epoch) {
    const auto order = torch::randperm(n, generator, torch::kInt64);
    double loss_sum = 0.0;
    std::int64_t batches = 0;
    // A last batch of one image would have no negatives; it waits for the next epoch's shuffle.
    for (std::int64_t first = 0; first + 1 < n; first += setup.batch) {
      const auto count = std::min(setup.batch, n - first);
      const auto images = data.images.index_select(0, order.narrow(0, first, count));
      const auto loss = nt_xent(head(net(augment(images, 2, policy, generator))), setup.temperature);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      ++batches;
    }
    if (after_epoch) after_epoch(epoch, loss_sum / static_cast<double>(batches));
  }
}

}  // namespace ssl_demo
