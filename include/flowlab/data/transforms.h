// Image transforms on whole uint8 sets and on float batches.
#pragma once
#include <torch/torch.h>

#include <string>

#include "flowlab/step_random.h"

namespace flowlab {

// images: uint8 (N, C, H, W) -> uint8 (N, C, size, size).
//   pad:    zero-pad (or center-crop) each side to size, no resampling (MNIST 28 -> 32)
//   resize: bilinear (antialiased) to size x size, ignoring aspect
//   crop:   resize the shorter side to size, then center-crop
torch::Tensor fit_images(const torch::Tensor& images, int64_t size, const std::string& mode);

// x: (N, C, H, W); flips each image horizontally with probability 1/2.
torch::Tensor random_horizontal_flip(const torch::Tensor& x, StepRandom& rng);

}  // namespace flowlab
