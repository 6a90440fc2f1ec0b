#include "flowlab/sampling/sde_sampler.h"

#include <cmath>

#include "flowlab/named_entries.h"

namespace flowlab {

torch::Tensor score_from_velocity(const torch::Tensor& x, const torch::Tensor& v, double t) {
  return -(x + (1 - t) * v) / t;
}

const std::vector<SdeDiffusion>& sde_diffusions() {
  static const std::vector<SdeDiffusion> forms = {
      {"sigma", "D = sigma_t = t (the default, SiT's)", [](double t) { return t; }},
      {"linear", "D = t (SiT's 1 - t in its time; on the linear path the same as sigma)", [](double t) { return t; }},
      {"constant", "D = 1", [](double) { return 1.0; }},
      {"SBDM", "D = t / (1 - t), score-based diffusion's (unbounded at t = 1)", [](double t) { return t / (1 - t); }},
  };
  return forms;
}

double sde_diffusion(const std::string& form, double t, double norm) {
  return norm * find_entry(sde_diffusions(), form, "sampling.sde_diffusion").coefficient(t);
}

torch::Tensor sde_sample(const VelocityFn& v, torch::Tensor x, const std::vector<double>& times,
                         const std::string& diffusion, double norm, const StepHook& hook) {
  sde_diffusion(diffusion, 0.5, norm);  // an unknown form fails before the first step
  for (size_t i = 0; i + 1 < times.size(); ++i) {
    const double t = times[i], next = times[i + 1], h = t - next;
    const bool last = i + 2 == times.size();
    auto velocity = v(x, torch::full({x.size(0)}, t, x.options().dtype(torch::kFloat32)));
    const double d = sde_diffusion(diffusion, diffusion == "SBDM" && t >= 1 ? next : t, norm);
    auto drift = velocity - d * score_from_velocity(x, velocity, t);
    x = x - h * drift;
    if (!last) x = x + std::sqrt(2 * d * h) * torch::randn_like(x);
    if (hook) x = hook(x, next);
  }
  return x;
}

}  // namespace flowlab
