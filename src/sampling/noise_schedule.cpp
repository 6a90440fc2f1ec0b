#include "flowlab/sampling/noise_schedule.h"

#include <cmath>

#include "flowlab/error.h"

namespace flowlab {

NoiseSchedule::NoiseSchedule(torch::Tensor betas)
    : betas_(std::move(betas)), alpha_bars_(torch::cumprod(1.0 - betas_, 0)) {}

NoiseSchedule NoiseSchedule::cosine(int64_t steps, double s) {
  auto f = [&](double t) {
    double c = std::cos((t / static_cast<double>(steps) + s) / (1.0 + s) * M_PI / 2.0);
    return c * c;
  };
  auto betas = torch::empty({steps}, torch::kFloat64);
  auto acc = betas.accessor<double, 1>();
  for (int64_t i = 0; i < steps; ++i)
    acc[i] = std::min(1.0 - f(static_cast<double>(i + 1)) / f(static_cast<double>(i)), 0.999);
  return NoiseSchedule(betas);
}

NoiseSchedule NoiseSchedule::linear(int64_t steps) {
  double scale = 1000.0 / static_cast<double>(steps);
  return NoiseSchedule(torch::linspace(scale * 1e-4, scale * 0.02, steps, torch::kFloat64));
}

NoiseSchedule NoiseSchedule::named(const std::string& name, int64_t steps) {
  if (name == "cosine") return cosine(steps);
  if (name == "linear") return linear(steps);
  throw Error("ddpm.schedule '" + name + "' is not cosine or linear");
}

double NoiseSchedule::alpha_bar(int64_t t) const {
  return t == 0 ? 1.0 : alpha_bars_[t - 1].item<double>();
}

torch::Tensor NoiseSchedule::alpha_bar_at(const torch::Tensor& t) const {
  auto table = alpha_bars_.to(t.device(), torch::kFloat32);
  return table.index_select(0, t - 1).view({-1, 1, 1, 1});
}

torch::Tensor NoiseSchedule::q_sample(const torch::Tensor& x0, const torch::Tensor& alpha_bar,
                                      const torch::Tensor& eps) {
  return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps;
}

NoiseSchedule::Posterior NoiseSchedule::posterior(double alpha_bar_t, double alpha_bar_s) {
  // Ho et al. 2020, eq. 7, with beta = 1 - alpha_bar_t / alpha_bar_s for the (possibly
  // respaced) step s -> t (Nichol & Dhariwal 2021, Sec. 4).
  double beta = 1.0 - alpha_bar_t / alpha_bar_s;
  Posterior p;
  p.coef_x0 = std::sqrt(alpha_bar_s) * beta / (1.0 - alpha_bar_t);
  p.coef_xt = std::sqrt(1.0 - beta) * (1.0 - alpha_bar_s) / (1.0 - alpha_bar_t);
  p.variance = beta * (1.0 - alpha_bar_s) / (1.0 - alpha_bar_t);
  return p;
}

}  // namespace flowlab
