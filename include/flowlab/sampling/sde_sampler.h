// SDE sampling of a velocity model (SiT, Ma et al. 2024, Sec. 3.3): the reverse-time SDE whose
// marginals are the flow's, integrated by Euler-Maruyama.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "flowlab/sampling/samplers.h"

namespace flowlab {

// The score of the linear path x_t = (1 - t) x_0 + t eps from its velocity v = eps - x_0: then
// x_t = eps - (1 - t) v, so E[eps | x_t] = x_t + (1 - t) E[v | x_t], and with
// s = grad log p_t = -E[eps | x_t] / t (Gaussian noise of standard deviation t),
//   s(x, t) = -(x + (1 - t) v(x, t)) / t.
// x, v: (N, ...); t > 0.
torch::Tensor score_from_velocity(const torch::Tensor& x, const torch::Tensor& v, double t);

// SiT's diffusion coefficients D(t) (its `diffusion_form`) by name (sampling.sde_diffusion), in
// flowlab's time (t = 1 noise; SiT's code runs the other way); adding one is its entry in
// sde_diffusions().
struct SdeDiffusion {
  std::string name;
  std::string help;
  std::function<double(double t)> coefficient;  // before sampling.sde_norm
};
const std::vector<SdeDiffusion>& sde_diffusions();
// D(t) of `form` times `norm` (SiT's `diffusion_norm`).
double sde_diffusion(const std::string& form, double t, double norm = 1.0);

// Euler-Maruyama on the reverse SDE dx = [v - D s] dt + sqrt(2 D) dW as SiT's released sampler
// integrates it (the paper's Sec. 3.3 writes w_t = 2 D; REPA's sampler uses w = 2 t, the sigma
// form), from times[0] = 1 down the grid:
//   x <- x - h (v - D s) + sqrt(2 D h) z,  h = t - t_next, z ~ N(0, I)
// (the probability-flow ODE's step plus a Langevin step of size D h). The last step takes no
// noise, as SiT's sampler does (its last_step "Mean"), so the result is the denoised mean. D is
// taken at the step's start, except SBDM's on the first step (unbounded at t = 1), taken at its
// end. One NFE per step; z from the default generator, one randn_like per noisy step.
torch::Tensor sde_sample(const VelocityFn& v, torch::Tensor x, const std::vector<double>& times,
                         const std::string& diffusion, double norm = 1.0, const StepHook& hook = nullptr);

}  // namespace flowlab
