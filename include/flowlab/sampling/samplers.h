// ODE samplers over a velocity field, integrating from t = 1 (noise) down to t = 0 (data).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "flowlab/config.h"
#include "flowlab/sampling/sampler_entry.h"

namespace flowlab {

// x: (N, C, H, W), t: (N,) -> dx/dt, shaped like x.
using VelocityFn = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& t)>;
// Called after each step with the state at time t; returns the state to continue from
// (inpainting puts known pixels back here; trajectory capture records and returns x unchanged).
using StepHook = std::function<torch::Tensor(const torch::Tensor& x, double t)>;

// steps + 1 times from t_start to t_end, evenly spaced.
std::vector<double> uniform_time_grid(int steps, double t_start = 1.0, double t_end = 0.0);

// Explicit Euler: x <- x + (t_next - t) v(x, t). First order, one NFE per step.
torch::Tensor euler_sample(const VelocityFn& v, torch::Tensor x, const std::vector<double>& times,
                           const StepHook& hook = nullptr);

// Heun's method (explicit trapezoid; Karras et al. 2022, Algorithm 1 without churn).
// Second order, two NFE per step.
torch::Tensor heun_sample(const VelocityFn& v, torch::Tensor x, const std::vector<double>& times,
                          const StepHook& hook = nullptr);

// Explicit midpoint rule. Second order, two NFE per step.
torch::Tensor midpoint_sample(const VelocityFn& v, torch::Tensor x, const std::vector<double>& times,
                              const StepHook& hook = nullptr);

// x: (N, C, H, W), r, t: (N,) with r <= t -> u(x, r, t), the average velocity over [r, t]
// (MeanFlow's network).
using AverageVelocityFn =
    std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& r, const torch::Tensor& t)>;

// MeanFlow's sampler (Geng et al. 2025, Algorithm 2, over several intervals): between consecutive
// grid times t > r, x <- x - (t - r) u(x, r, t). One NFE per interval; one interval is one-step
// generation.
torch::Tensor mean_flow_sample(const AverageVelocityFn& u, torch::Tensor x, const std::vector<double>& times,
                               const StepHook& hook = nullptr);

struct AdaptiveOptions {
  double t_start = 1.0;
  double t_end = 0.0;
  double rtol = 1e-3;
  double atol = 1e-3;
  int64_t max_steps = 100000;
};

struct AdaptiveResult {
  torch::Tensor x;
  int64_t nfe = 0;
  int64_t accepted = 0;
  int64_t rejected = 0;
};

// Dormand-Prince RK5(4) with FSAL and error control (Dormand & Prince 1980; Hairer, Norsett &
// Wanner, Solving ODEs I, II.4 and II.5 for the initial step). The error norm is the RMS over all
// elements of err / (atol + rtol * max(|x|, |x_new|)); a step is accepted when it is <= 1.
AdaptiveResult rk45_sample(const VelocityFn& v, torch::Tensor x, const AdaptiveOptions& options,
                           const StepHook& hook = nullptr);

// A flow sampler as the CFM entry lists it (sampling/sampler_entry.h), with the function that
// runs it over sampling's time grid. Adding one: its function, then one line in flow_samplers().
using FlowSamplerFn = std::function<torch::Tensor(const VelocityFn& v, torch::Tensor x, const SamplingConfig& sampling,
                                                  const StepHook& hook)>;
using FlowSampler = SamplerEntry<FlowSamplerFn>;
const std::vector<FlowSampler>& flow_samplers();

struct OdeResult {
  torch::Tensor x;
  int64_t nfe = 0;
};

// Runs the flow sampler named sampling.sampler from t = 1 to t = 0 and counts the velocity
// evaluations; an unknown name is "config: sampling.sampler = NAME: must be one of: ...".
OdeResult sample_flow(const SamplingConfig& sampling, const VelocityFn& v, torch::Tensor x,
                      const StepHook& hook = nullptr);

}  // namespace flowlab
