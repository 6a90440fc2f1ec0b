// What a DDPM network predicts (ddpm.prediction), and the conversions between that and (x0, eps)
// at a state x_t = sqrt(ab) x0 + sqrt(1 - ab) eps:
//   epsilon: eps;  v = sqrt(ab) eps - sqrt(1 - ab) x0 (Salimans & Ho 2022);  x0: x0 itself.
// ab is a double or a tensor that broadcasts against the images, e.g. (N, 1, 1, 1).
#pragma once
#include <torch/torch.h>

#include <string>

#include "flowlab/sampling/diffusion_samplers.h"

namespace flowlab {

class DdpmPrediction {
 public:
  // "epsilon", "v" or "x0"; throws Error for anything else.
  explicit DdpmPrediction(std::string kind);
  const std::string& kind() const { return kind_; }

  // The network's regression target for clean x0 and noise eps.
  torch::Tensor target(const torch::Tensor& x0, const torch::Tensor& eps, const torch::Tensor& ab) const;
  // The network's output at x_t -> (x0, eps).
  Denoised denoised(const torch::Tensor& x_t, const torch::Tensor& prediction, const torch::Tensor& ab) const;

 private:
  std::string kind_;
};

}  // namespace flowlab
