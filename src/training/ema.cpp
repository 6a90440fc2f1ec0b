#include "flowlab/training/ema.h"

namespace flowlab {

Ema::Ema(NetworkPtr model, NetworkPtr shadow, double decay, bool warmup)
    : shadow_(std::move(shadow)), decay_(decay), warmup_(warmup) {
  torch::NoGradGuard no_grad;
  model_params_ = model->parameters();
  shadow_params_ = shadow_->parameters();
  for (size_t i = 0; i < model_params_.size(); ++i) shadow_params_[i].copy_(model_params_[i]);
  auto mb = model->buffers();
  auto sb = shadow_->buffers();
  for (size_t i = 0; i < mb.size(); ++i) sb[i].copy_(mb[i]);
  for (auto& p : shadow_params_) p.set_requires_grad(false);
  shadow_->eval();
}

double Ema::decay_at(int64_t step) const {
  if (!warmup_) return decay_;
  return std::min(decay_, (1.0 + static_cast<double>(step)) / (10.0 + static_cast<double>(step)));
}

void Ema::update(int64_t step) {
  torch::NoGradGuard no_grad;
  double d = decay_at(step);
  for (size_t i = 0; i < shadow_params_.size(); ++i)
    shadow_params_[i].mul_(d).add_(model_params_[i].detach(), 1.0 - d);
}

void Ema::update(const torch::Tensor& weight) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < shadow_params_.size(); ++i) shadow_params_[i].lerp_(model_params_[i].detach(), weight);
}

}  // namespace flowlab
