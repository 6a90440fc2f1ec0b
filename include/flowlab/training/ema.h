// Exponential moving average of a model's weights, kept in a second model of the same shape.
#pragma once
#include "flowlab/models/backbone.h"

namespace flowlab {

class Ema {
 public:
  // Copies `model`'s weights into `shadow`.
  Ema(NetworkPtr model, NetworkPtr shadow, double decay, bool warmup);

  // After optimizer step number `step` (1-based): shadow <- d shadow + (1 - d) model.
  void update(int64_t step);
  // The same with w = 1 - d in a device scalar: shadow <- shadow + w (model - shadow). Capturable.
  void update(const torch::Tensor& weight);
  // min(decay, (1 + step) / (10 + step)) with warm-up, else decay.
  double decay_at(int64_t step) const;
  const NetworkPtr& shadow() const { return shadow_; }
  double decay() const { return decay_; }

 private:
  std::vector<torch::Tensor> model_params_, shadow_params_;
  NetworkPtr shadow_;
  double decay_;
  bool warmup_;
};

}  // namespace flowlab
