// Conditional flow matching on the rectified-flow path (Lipman et al. 2023; Liu et al. 2023):
//   x_t = (1 - t) x + t eps,  v = eps - x,  loss = || v_theta(x_t, t, y) - v ||^2.
// t = 0 is data, t = 1 is noise; sampling integrates dx/dt = v from t = 1 to 0.
// (SiT's code and torchcfm write the mirror image, t' = 1 - t with t' = 0 as noise; their velocity is -v.)
#pragma once
#include "flowlab/config.h"
#include "flowlab/methods/method.h"
#include "flowlab/methods/registry.h"

namespace flowlab {

class CfmMethod : public Method {
 public:
  explicit CfmMethod(MethodConfig config) : config_(std::move(config)) {}
  std::string name() const override { return "cfm"; }
  LossOutput loss(Network& model, const torch::Tensor& x, const torch::Tensor& y,
                  StepRandom& rng) override;
  torch::Tensor per_pixel_loss(Backbone& model, const torch::Tensor& x, const torch::Tensor& y,
                               StepRandom& rng) override;
  SampleOutput sample(Backbone& model, const torch::Tensor& noise, const torch::Tensor& y,
                      const SamplingConfig& sampling, const StepHook& hook = nullptr) override;

 private:
  MethodConfig config_;
};

// method.name cfm: the ODE samplers of sampling/samplers.h.
MethodEntry cfm_entry();

}  // namespace flowlab
