// DDPM's samplers over a denoiser, on a respaced subsequence of the T training steps (Nichol &
// Dhariwal 2021, Sec. 4): ancestral (Ho et al. 2020, Algorithm 2) and DDIM (Song et al. 2021), both
// with RePaint's resampling jumps (Lugmayr et al. 2022).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "flowlab/sampling/noise_schedule.h"
#include "flowlab/sampling/samplers.h"

namespace flowlab {

// The network's estimates of clean data and noise at a state.
struct Denoised {
  torch::Tensor x0, eps;
  // A network that predicts its variance (improved DDPM's learned range, Nichol & Dhariwal 2021,
  // Eq. 15): f in [0, 1] per element, the ancestral step's log variance f log(beta) + (1 - f)
  // log(posterior variance). Undefined: the posterior variance.
  torch::Tensor variance_fraction;
};
// x at integer step t in 1..T -> its Denoised.
using DenoiseFn = std::function<Denoised(const torch::Tensor& x, int64_t t)>;

// `count` steps from {1..T}, evenly spaced, ascending, always including 1 and T: improved
// diffusion's space_timesteps(T, "count"), whose 0-based steps are a running sum of
// (T - 1) / (count - 1) rounded half to even.
std::vector<int64_t> respaced_steps(int64_t total, int64_t count);

// The order in which the sampler visits levels levels..0 (level i >= 1: the i-th respaced step,
// 0: clean data) with RePaint resampling: down one level at a time, and at every jump-th level
// back up `jump` levels, repeats - 1 times. repeats = 1 gives levels, levels - 1, ..., 0.
std::vector<int64_t> resampling_path(int64_t levels, int64_t jump, int64_t repeats);

// The integer steps a sampler visits, from T to 0: `steps` respaced steps walked by
// resampling_path(jump, repeats).
std::vector<int64_t> diffusion_step_path(int64_t total, int64_t steps, int64_t jump, int64_t repeats);

// Both samplers walk `path` (integer steps from T to 0). A step down from t to s uses the
// denoiser at t; a step up (a resampling jump) draws from q(x_s | x_t). hook(x, s / T) follows
// every move.
//
// Ancestral: x_s ~ q(x_s | x_t, x0) with the posterior of the (respaced) step t -> s.
torch::Tensor ddpm_ancestral_sample(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                                    torch::Tensor x, const std::vector<int64_t>& path,
                                    const StepHook& hook = nullptr);
// DDIM, eq. 12 with sigma from eq. 16 scaled by eta (0: deterministic).
torch::Tensor ddim_sample(const DenoiseFn& denoise, const NoiseSchedule& schedule, torch::Tensor x,
                          const std::vector<int64_t>& path, double eta, const StepHook& hook = nullptr);

}  // namespace flowlab
