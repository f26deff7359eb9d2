#pragma once

// SimCLR-style augmentations for 8x8 digits, drawn from torch's global generator (seeded
// by torch::manual_seed, so runs repeat). The same function makes the training views and
// the measurement views, as UnitMem and SSLMem ask for the training augmentations.
//
// No flips: a mirrored 2, 3, 4, 5, 6, 7 or 9 is not a digit, so a flip would teach the
// encoder an invariance the data does not have.

#include <cstdint>

#include <torch/torch.h>

namespace digits_ssl {

// `views` augmentations of every image of `images` [n, 1, 8, 8], returned as [n * views, 1, 8, 8]
// with the views of one image adjacent (image i's views at rows i*views .. i*views + views - 1),
// the sample-major order memloc's nchw_sample_major view reads.
torch::Tensor augment(const torch::Tensor& images, std::int64_t views);

}  // namespace digits_ssl
