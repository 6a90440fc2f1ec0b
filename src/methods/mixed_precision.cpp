#include "flowlab/methods/mixed_precision.h"

#include "flowlab/models/autocast.h"

namespace flowlab {

MixedPrecisionMethod::MixedPrecisionMethod(MethodPtr base, c10::DeviceType device_type)
    : base_(std::move(base)), device_type_(device_type) {}

LossOutput MixedPrecisionMethod::loss(Network& model, const torch::Tensor& x, const torch::Tensor& y,
                                      StepRandom& rng) {
  AutocastScope bf16(device_type_, "bf16");
  return base_->loss(model, x, y, rng);
}

torch::Tensor MixedPrecisionMethod::per_pixel_loss(Backbone& model, const torch::Tensor& x,
                                                   const torch::Tensor& y, StepRandom& rng) {
  AutocastScope bf16(device_type_, "bf16");
  return base_->per_pixel_loss(model, x, y, rng);
}

SampleOutput MixedPrecisionMethod::sample(Backbone& model, const torch::Tensor& noise,
                                          const torch::Tensor& y, const SamplingConfig& sampling,
                                          const StepHook& hook) {
  AutocastScope bf16(device_type_, "bf16");
  return base_->sample(model, noise, y, sampling, hook);
}

torch::Tensor MixedPrecisionMethod::reconstruct(Network& model, const torch::Tensor& x) {
  AutocastScope bf16(device_type_, "bf16");
  return base_->reconstruct(model, x);
}

}  // namespace flowlab
