// DDPM (Ho et al. 2020) with the cosine schedule by default (Nichol & Dhariwal 2021).
// Training: t ~ U{1..T}, x_t = sqrt(ab_t) x + sqrt(1 - ab_t) eps; the network sees time t / T in
// (0, 1], the same time axis as every other method, and predicts eps (or v = sqrt(ab) eps -
// sqrt(1 - ab) x, Salimans & Ho 2022); MSE loss.
// Sampling: ancestral or DDIM (Song et al. 2021) on a respaced subsequence of the T steps.
#pragma once
#include "flowlab/config.h"
#include "flowlab/methods/method.h"
#include "flowlab/methods/registry.h"
#include "flowlab/methods/noise_schedule.h"

namespace flowlab {

class DdpmMethod : public Method {
 public:
  explicit DdpmMethod(DdpmConfig config);
  std::string name() const override { return "ddpm"; }
  LossOutput loss(Backbone& model, const torch::Tensor& x, const torch::Tensor& y,
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
};

// `count` steps from {1..T}, evenly spaced, ascending, always including 1 and T.
std::vector<int64_t> respaced_steps(int64_t total, int64_t count);

// The order in which the sampler visits levels levels..0 (level i >= 1: the i-th respaced step,
// 0: clean data) with RePaint resampling: down one level at a time, and at every jump-th level
// back up `jump` levels, repeats - 1 times. repeats = 1 gives levels, levels - 1, ..., 0.
std::vector<int64_t> resampling_path(int64_t levels, int64_t jump, int64_t repeats);

// method.name ddpm: ancestral (ddpm) and DDIM sampling, with RePaint resampling.
MethodEntry ddpm_entry();

}  // namespace flowlab
