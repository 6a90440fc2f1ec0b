// DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
// Probabilistic Models", Algorithm 2): the multistep second-order solver of the diffusion ODE in
// its data-prediction form, for any Gaussian path x = alpha x0 + sigma eps. With
// lambda = log(alpha / sigma) and h_i = lambda_i - lambda_{i-1}:
//   x_i = (sigma_i / sigma_{i-1}) x_{i-1} - alpha_i (e^{-h_i} - 1) D_i,
//   D_i = (1 + 1 / (2 r_i)) x0_{i-1} - x0_{i-2} / (2 r_i),  r_i = h_{i-1} / h_i,
// where x0_j is the data prediction at level j. A step from pure noise (alpha = 0) or to clean
// data (sigma = 0) has an infinite h; it, and the step after one from pure noise, take the first
// order form D_i = x0_{i-1}.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "flowlab/sampling/diffusion_samplers.h"
#include "flowlab/sampling/samplers.h"

namespace flowlab {

// The solver over levels (alphas[i], sigmas[i]), i = 0 from noise to the last, data;
// data_prediction(x, i) -> x0 at level i; hook(x, times[i]) after reaching level i.
torch::Tensor dpm_solver_pp_2m(const std::function<torch::Tensor(const torch::Tensor&, size_t)>& data_prediction,
                               torch::Tensor x, const std::vector<double>& alphas, const std::vector<double>& sigmas,
                               const std::vector<double>& times, const StepHook& hook = nullptr);

// For a velocity model on flowlab's linear path: alpha = 1 - t, sigma = t, x0 = x - t v, over
// `times` from 1 to 0.
torch::Tensor dpm_solver_pp_2m_flow(const VelocityFn& v, torch::Tensor x, const std::vector<double>& times,
                                    const StepHook& hook = nullptr);

// For a DDPM model over `path` (integer steps from T down to 0, without resampling jumps):
// alpha = sqrt(alpha_bar_t), sigma = sqrt(1 - alpha_bar_t), and clean data at 0.
torch::Tensor dpm_solver_pp_2m_diffusion(const DenoiseFn& denoise, const NoiseSchedule& schedule, torch::Tensor x,
                                         const std::vector<int64_t>& path, const StepHook& hook = nullptr);

}  // namespace flowlab
