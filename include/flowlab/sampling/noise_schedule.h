// Discrete DDPM noise schedules over T steps (Ho et al. 2020; Nichol & Dhariwal 2021).
// Step t runs 1..T (larger = noisier); arrays are indexed by t - 1.
#pragma once
#include <torch/torch.h>

#include <string>

namespace flowlab {

class NoiseSchedule {
 public:
  // Cosine: alpha_bar(t) = f(t) / f(0), f(t) = cos^2(((t / T + s) / (1 + s)) pi / 2), s = 0.008,
  // beta_t = min(1 - alpha_bar(t) / alpha_bar(t - 1), 0.999).
  static NoiseSchedule cosine(int64_t steps, double s = 0.008);
  // Linear: betas from 1e-4 to 0.02 at T = 1000, both scaled by 1000 / T otherwise.
  static NoiseSchedule linear(int64_t steps);
  // "cosine" or "linear".
  static NoiseSchedule named(const std::string& name, int64_t steps);

  int64_t steps() const { return betas_.size(0); }
  // float64 (T,) tensors on the CPU.
  const torch::Tensor& betas() const { return betas_; }
  const torch::Tensor& alpha_bars() const { return alpha_bars_; }
  // alpha_bar at step t in 1..T; alpha_bar(0) = 1 (clean data).
  double alpha_bar(int64_t t) const;

  // Gathers alpha_bar at integer steps t (N,) in 1..T, as float (N, 1, 1, 1) on t's device.
  torch::Tensor alpha_bar_at(const torch::Tensor& t) const;

  // q(x_t | x_0) = N(sqrt(ab) x_0, (1 - ab) I).
  static torch::Tensor q_sample(const torch::Tensor& x0, const torch::Tensor& alpha_bar,
                                const torch::Tensor& eps);

  // Posterior q(x_s | x_t, x_0) between two steps s < t of this (or a respaced) schedule, given
  // their alpha_bars: mean = coef_x0 x_0 + coef_xt x_t, variance.
  struct Posterior {
    double coef_x0, coef_xt, variance;
  };
  static Posterior posterior(double alpha_bar_t, double alpha_bar_s);

 private:
  explicit NoiseSchedule(torch::Tensor betas);
  torch::Tensor betas_, alpha_bars_;
};

}  // namespace flowlab
