#include "flowlab/methods/cfm.h"

#include "flowlab/methods/flow_path.h"
#include "flowlab/methods/time_sampling.h"
#include "flowlab/sampling/guidance.h"

namespace flowlab {

torch::Tensor CfmMethod::per_pixel_loss(Backbone& model, const torch::Tensor& x, const torch::Tensor& y,
                                        StepRandom& rng) {
  auto t = rng.rows(x.size(0), [&](int64_t n) {
    return sample_times(config_.time_sampling, n, config_.logit_mean, config_.logit_std, x.options());
  });
  auto eps = rng.randn_like(x);
  return (model.forward(FlowPath::at(x, eps, t), t, y) - FlowPath::velocity(x, eps)).pow(2);
}

LossOutput CfmMethod::loss(Network& network, const torch::Tensor& x, const torch::Tensor& y,
                           StepRandom& rng) {
  auto& model = as_backbone(network);
  LossOutput out;
  out.loss = per_pixel_loss(model, x, y, rng).mean();
  return out;
}

SampleOutput CfmMethod::sample(Backbone& model, const torch::Tensor& noise, const torch::Tensor& y,
                               const SamplingConfig& sampling, const StepHook& hook) {
  c10::InferenceMode inference;  // no autograd bookkeeping at all while sampling
  int64_t rows = 0;
  ConditionalFn net = [&model, &rows](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& labels) {
    rows += x.size(0);
    return model.forward(x, t, labels);
  };
  auto velocity = classifier_free_guidance(net, y, model.null_label(), sampling.cfg_scale,
                                           {sampling.cfg_t_min, sampling.cfg_t_max}, sampling.cfg_channels);
  auto result = sample_flow(sampling, velocity, noise, hook);
  return {result.x, result.nfe, rows / std::max<int64_t>(1, noise.size(0))};
}

MethodEntry cfm_entry() {
  MethodEntry e;
  e.name = "cfm";
  e.samplers = sampler_infos(flow_samplers());
  e.per_pixel_loss = true;
  e.make = [](const Config& c) -> MethodPtr { return std::make_unique<CfmMethod>(c.method); };
  return e;
}

}  // namespace flowlab
