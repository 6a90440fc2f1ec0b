#include "flowlab/training/optimizer_step.h"

namespace flowlab {

torch::Tensor clip_gradients(const std::vector<torch::Tensor>& params, double max_norm) {
  std::vector<torch::Tensor> norms;
  for (const auto& p : params)
    if (p.grad().defined()) norms.push_back(p.grad().norm());
  if (norms.empty()) return torch::zeros({});
  auto total = torch::stack(norms).norm();
  if (max_norm > 0) {
    auto scale = (max_norm / (total + 1e-6)).clamp_max(1.0);
    for (const auto& p : params)
      if (p.grad().defined()) p.grad().mul_(scale);
  }
  return total;
}

StepOutcome apply_gradients(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& params,
                            const torch::Tensor& loss, double grad_clip, const GradientAverager& average) {
  StepOutcome outcome;
  outcome.loss = loss;
  if (average) {
    std::vector<torch::Tensor> tensors;
    for (torch::Tensor p : params) {  // a handle: setting its grad sets the parameter's
      // A parameter this batch did not reach still takes part, so every process reduces the same list.
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      tensors.push_back(p.grad());
    }
    outcome.loss = outcome.loss.reshape({1}).clone();
    tensors.push_back(outcome.loss);
    average(tensors);
    outcome.loss = outcome.loss.reshape({});
  }
  outcome.grad_norm = clip_gradients(params, grad_clip);
  auto checked = torch::stack({outcome.loss.to(outcome.grad_norm.device()), outcome.grad_norm});
  outcome.applied = torch::isfinite(checked).all().item<bool>();
  if (outcome.applied) optimizer.step();
  return outcome;
}

}  // namespace flowlab
