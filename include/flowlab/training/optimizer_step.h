// One optimizer update as the trainer makes it, shared with the benchmark so both time the same
// work.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

namespace flowlab {

struct StepOutcome {
  torch::Tensor loss;       // detached, averaged over processes when there are several
  torch::Tensor grad_norm;  // global L2 norm before clipping, a device scalar
  bool applied = false;     // false: loss or gradient not finite, no update made
};

// Averages gradients and the loss over processes, in place (dist::World::allreduce_mean).
using GradientAverager = std::function<void(std::vector<torch::Tensor>& grads_and_loss)>;

// Scales gradients so their global L2 norm is at most max_norm (0: not at all); returns the norm
// before clipping as a device scalar (no host sync).
torch::Tensor clip_gradients(const std::vector<torch::Tensor>& params, double max_norm);

// The update from the gradients already accumulated: `average` (when given; every gradient
// defined, the loss last), clipping to a global norm of grad_clip (0 = off), then the optimizer
// step if loss and gradient norm are finite. One host sync, for that check. loss: detached.
StepOutcome apply_gradients(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& params,
                            const torch::Tensor& loss, double grad_clip, const GradientAverager& average = nullptr);

}  // namespace flowlab
