// compute.precision = bf16: runs a method's network passes (loss and sampling) under bf16
// autocast on the run's device (models/autocast.h). The wrapped method's objective, samplers and
// results are otherwise unchanged; losses and sampler states stay fp32.
#pragma once
#include "flowlab/methods/method.h"

namespace flowlab {

class MixedPrecisionMethod : public Method {
 public:
  MixedPrecisionMethod(MethodPtr base, c10::DeviceType device_type);

  std::string name() const override { return base_->name(); }
  LossOutput loss(Network& model, const torch::Tensor& x, const torch::Tensor& y,
                  StepRandom& rng) override;
  torch::Tensor per_pixel_loss(Backbone& model, const torch::Tensor& x, const torch::Tensor& y,
                               StepRandom& rng) override;
  SampleOutput sample(Backbone& model, const torch::Tensor& noise, const torch::Tensor& y,
                      const SamplingConfig& sampling, const StepHook& hook = nullptr) override;
  torch::Tensor noised(const torch::Tensor& x0, const torch::Tensor& eps, double t) const override {
    return base_->noised(x0, eps, t);
  }
  void after_step() override { base_->after_step(); }
  bool has_state() const override { return base_->has_state(); }
  void save_state(torch::serialize::OutputArchive& archive) const override { base_->save_state(archive); }
  void load_state(torch::serialize::InputArchive& archive) override { base_->load_state(archive); }
  torch::Tensor reconstruct(Network& model, const torch::Tensor& x) override;

 private:
  MethodPtr base_;
  c10::DeviceType device_type_;
};

}  // namespace flowlab
