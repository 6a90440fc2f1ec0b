// One optimizer update as the trainer makes it, shared with the benchmark so both time the same
// work.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace flowlab {

struct StepOutcome {
  torch::Tensor grad_norm;  // global L2 norm before clipping, a device scalar
  bool applied = false;     // false: loss or gradient not finite, no update made
};

// zero_grad, backward of `loss`, clipping to a global norm of grad_clip (0 = off), then the
// optimizer step if loss and gradient norm are finite. One host sync, for that check.
StepOutcome optimizer_step(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& params,
                           const torch::Tensor& loss, double grad_clip);

}  // namespace flowlab
