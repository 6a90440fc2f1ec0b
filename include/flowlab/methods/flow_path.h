// The linear (rectified-flow) path that CFM and MeanFlow train on (Lipman et al. 2023; Liu et al.
// 2023): x_t = (1 - t) x + t eps, with velocity dx_t/dt = eps - x; t = 0 is data, t = 1 noise.
#pragma once
#include <torch/torch.h>

namespace flowlab {

struct FlowPath {
  // x, eps: (N, C, H, W); t: (N,) per row, or one time for all.
  static torch::Tensor at(const torch::Tensor& x, const torch::Tensor& eps, const torch::Tensor& t) {
    auto tb = t.view({-1, 1, 1, 1});
    return (1 - tb) * x + tb * eps;
  }
  static torch::Tensor at(const torch::Tensor& x, const torch::Tensor& eps, double t) {
    return (1 - t) * x + t * eps;
  }
  static torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& eps) { return eps - x; }
};

}  // namespace flowlab
