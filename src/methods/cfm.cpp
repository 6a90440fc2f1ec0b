#include "flowlab/methods/cfm.h"

#include "flowlab/methods/time_sampling.h"
#include "flowlab/sampling/guidance.h"

namespace flowlab {

LossOutput CfmMethod::loss(Backbone& model, const torch::Tensor& x, const torch::Tensor& y) {
  auto t = sample_times(config_.time_sampling, x.size(0), config_.logit_mean, config_.logit_std,
                        x.options());
  auto eps = torch::randn_like(x);
  auto tb = t.view({-1, 1, 1, 1});
  auto x_t = (1 - tb) * x + tb * eps;
  auto v_pred = model.forward(x_t, t, y);
  LossOutput out;
  out.loss = torch::mse_loss(v_pred, eps - x);
  return out;
}

SampleOutput CfmMethod::sample(Backbone& model, const torch::Tensor& noise, const torch::Tensor& y,
                               const SamplingConfig& sampling, const StepHook& hook) {
  torch::NoGradGuard no_grad;
  ConditionalFn net = [&model](const torch::Tensor& x, const torch::Tensor& t,
                               const torch::Tensor& labels) { return model.forward(x, t, labels); };
  auto velocity = classifier_free_guidance(net, y, model.null_label(), sampling.cfg_scale);
  auto result = integrate_ode(sampling.sampler, velocity, noise, sampling.steps, sampling.rtol,
                              sampling.atol, hook);
  return {result.x, result.nfe};
}

}  // namespace flowlab
