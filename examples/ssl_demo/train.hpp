#pragma once

// SimCLR training (NT-Xent on two augmented views per image), with a callback after each
// epoch so that measurements can follow the training (LOC Fig. 10).

#include <cstdint>
#include <functional>

#include "augment.hpp"
#include "data.hpp"
#include "model.hpp"

namespace ssl_demo {

struct training_setup {
  std::int64_t epochs = 30;
  std::int64_t batch = 128;
  double learning_rate = 2e-3;
  double temperature = 0.5;
};

// Called after epoch `epoch` (1-based) with its mean loss.
using epoch_callback = std::function<void(std::int64_t epoch, double loss)>;

// Trains `net` and its projection `head` on `data`, every random draw (shuffles and
// augmentations) from `generator`, so that two encoders trained in two threads from
// generators of one seed see the same stream.
void train_simclr(encoder& net, projection_head& head, const image_set& data, const training_setup& setup,
                  const augmentation_policy& policy, at::Generator generator, const epoch_callback& after_epoch);

}  // namespace ssl_demo
