#pragma once

// SimCLR training (NT-Xent on two augmented views per image), with a callback after each
// epoch so that measurements can follow the training (LOC Fig. 10).

#include <cstdint>
#include <functional>

#include "digits_data.hpp"
#include "model.hpp"

namespace digits_ssl {

struct training_setup {
  std::int64_t epochs = 30;
  std::int64_t batch = 128;
  double learning_rate = 2e-3;
  double temperature = 0.5;
};

// Called after epoch `epoch` (1-based) with its mean loss.
using epoch_callback = std::function<void(std::int64_t epoch, double loss)>;

// Trains `net` (and a fresh projection head, discarded afterwards) on `data`.
void train_simclr(encoder& net, const digit_set& data, const training_setup& setup, const epoch_callback& after_epoch);

}  // namespace digits_ssl
