// DDPM (Ho et al. 2020) with the cosine schedule by default (Nichol & Dhariwal 2021).
// Training: t ~ U{1..T}, x_t = sqrt(ab_t) x + sqrt(1 - ab_t) eps; the network sees time t / T in
// (0, 1], the same time axis as every other method, and predicts eps, v or x0
// (methods/ddpm_prediction.h); MSE loss.
// Sampling: ancestral or DDIM (sampling/diffusion_samplers.h) on a respaced subsequence of the T
// steps.
#pragma once
#include "flowlab/config.h"
#include "flowlab/methods/method.h"
#include "flowlab/methods/registry.h"
#include "flowlab/methods/ddpm_prediction.h"
#include "flowlab/sampling/noise_schedule.h"

namespace flowlab {

class DdpmMethod : public Method {
 public:
  explicit DdpmMethod(DdpmConfig config);
  std::string name() const override { return "ddpm"; }
  LossOutput loss(Network& model, const torch::Tensor& x, const torch::Tensor& y,
                  StepRandom& rng) override;
  // sampling.sampler: "ddpm" (ancestral) or "ddim" (ddpm.eta = 0 is deterministic);
  // sampling.steps network evaluations on the respaced schedule, more with resampling
  // (sampling.resample_repeats > 1), which makes inpainting's known region and the generated
  // one agree.
  SampleOutput sample(Backbone& model, const torch::Tensor& noise, const torch::Tensor& y,
                      const SamplingConfig& sampling, const StepHook& hook = nullptr) override;

  // q(x_s | x0) at step s = round(t T): sqrt(ab) x0 + sqrt(1 - ab) eps.
  torch::Tensor noised(const torch::Tensor& x0, const torch::Tensor& eps, double t) const override;
  const NoiseSchedule& schedule() const { return schedule_; }

 private:
  DdpmConfig config_;
  NoiseSchedule schedule_;
  DdpmPrediction prediction_;
};

// method.name ddpm: ancestral (ddpm) and DDIM sampling, with RePaint resampling.
MethodEntry ddpm_entry();

}  // namespace flowlab
