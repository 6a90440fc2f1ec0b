#include "flowlab/sampling/sde_sampler.h"

#include <cmath>

#include "flowlab/error.h"

namespace flowlab {

torch::Tensor score_from_velocity(const torch::Tensor& x, const torch::Tensor& v, double t) {
  return -(x + (1 - t) * v) / t;
}

double sde_diffusion(const std::string& form, double t, double norm) {
  if (form == "constant") return norm;
  if (form == "sigma" || form == "linear") return norm * t;
  if (form == "SBDM") return norm * t / (1 - t);
  throw Error("sampling.sde_diffusion must be constant, sigma, linear or SBDM, got " + form);
}

std::vector<std::string> sde_diffusion_names() { return {"constant", "sigma", "linear", "SBDM"}; }

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
