#include "flowlab/sampling/samplers.h"

#include <cmath>

#include "flowlab/error.h"
#include "flowlab/named_entries.h"
#include "flowlab/sampling/dpm_solver.h"
#include "flowlab/sampling/sde_sampler.h"
#include "flowlab/sampling/time_grids.h"

namespace flowlab {
namespace {

torch::Tensor time_like(const torch::Tensor& x, double t) {
  return torch::full({x.size(0)}, t, x.options().dtype(torch::kFloat32));
}

torch::Tensor after_step(const StepHook& hook, torch::Tensor x, double t) {
  return hook ? hook(x, t) : x;
}

// RMS of e / (atol + rtol * max(|a|, |b|)).
double scaled_rms(const torch::Tensor& e, const torch::Tensor& a, const torch::Tensor& b,
                  double rtol, double atol) {
  auto scale = atol + rtol * torch::maximum(a.abs(), b.abs());
  return (e / scale).pow(2).mean().sqrt().item<double>();
}

}  // namespace

std::vector<double> uniform_time_grid(int steps, double t_start, double t_end) {
  std::vector<double> times(static_cast<size_t>(steps) + 1);
  for (int i = 0; i <= steps; ++i) times[i] = t_start + (t_end - t_start) * i / steps;
  return times;
}

torch::Tensor mean_flow_sample(const AverageVelocityFn& u, torch::Tensor x, const std::vector<double>& times,
                               const StepHook& hook) {
  for (size_t i = 0; i + 1 < times.size(); ++i) {
    double t = times[i], r = times[i + 1];
    auto tt = torch::full({x.size(0)}, t, x.options());
    x = x - (t - r) * u(x, torch::full_like(tt, r), tt);
    x = after_step(hook, x, r);
  }
  return x;
}

torch::Tensor euler_sample(const VelocityFn& v, torch::Tensor x, const std::vector<double>& times,
                           const StepHook& hook) {
  for (size_t i = 0; i + 1 < times.size(); ++i) {
    double h = times[i + 1] - times[i];
    x = x + h * v(x, time_like(x, times[i]));
    x = after_step(hook, x, times[i + 1]);
  }
  return x;
}

torch::Tensor heun_sample(const VelocityFn& v, torch::Tensor x, const std::vector<double>& times,
                          const StepHook& hook) {
  for (size_t i = 0; i + 1 < times.size(); ++i) {
    double h = times[i + 1] - times[i];
    auto d = v(x, time_like(x, times[i]));
    auto x_euler = x + h * d;
    auto d_next = v(x_euler, time_like(x, times[i + 1]));
    x = x + (0.5 * h) * (d + d_next);
    x = after_step(hook, x, times[i + 1]);
  }
  return x;
}

torch::Tensor midpoint_sample(const VelocityFn& v, torch::Tensor x, const std::vector<double>& times,
                              const StepHook& hook) {
  for (size_t i = 0; i + 1 < times.size(); ++i) {
    double h = times[i + 1] - times[i];
    auto d = v(x, time_like(x, times[i]));
    auto x_mid = x + (0.5 * h) * d;
    x = x + h * v(x_mid, time_like(x, times[i] + 0.5 * h));
    x = after_step(hook, x, times[i + 1]);
  }
  return x;
}

AdaptiveResult rk45_sample(const VelocityFn& v, torch::Tensor x, const AdaptiveOptions& o,
                           const StepHook& hook) {
  // Dormand-Prince tableau.
  constexpr double c2 = 1.0 / 5, c3 = 3.0 / 10, c4 = 4.0 / 5, c5 = 8.0 / 9;
  constexpr double a21 = 1.0 / 5;
  constexpr double a31 = 3.0 / 40, a32 = 9.0 / 40;
  constexpr double a41 = 44.0 / 45, a42 = -56.0 / 15, a43 = 32.0 / 9;
  constexpr double a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561,
                   a54 = -212.0 / 729;
  constexpr double a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247, a64 = 49.0 / 176,
                   a65 = -5103.0 / 18656;
  constexpr double b1 = 35.0 / 384, b3 = 500.0 / 1113, b4 = 125.0 / 192, b5 = -2187.0 / 6784,
                   b6 = 11.0 / 84;
  // Fifth- minus fourth-order weights.
  constexpr double e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920,
                   e5 = -17253.0 / 339200, e6 = 22.0 / 525, e7 = -1.0 / 40;

  AdaptiveResult result;
  auto f = [&](const torch::Tensor& xs, double t) {
    ++result.nfe;
    return v(xs, time_like(xs, t));
  };
  const double direction = o.t_end < o.t_start ? -1.0 : 1.0;
  const double span = std::fabs(o.t_end - o.t_start);
  double t = o.t_start;
  auto k1 = f(x, t);

  // Initial step size (Hairer et al., II.4).
  double d0 = scaled_rms(x, x, x, o.rtol, o.atol);
  double d1 = scaled_rms(k1, x, x, o.rtol, o.atol);
  double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  h0 = std::min(h0, span);
  auto k_probe = f(x + direction * h0 * k1, t + direction * h0);
  double d2 = scaled_rms(k_probe - k1, x, x, o.rtol, o.atol) / h0;
  double h1 = std::max(d1, d2) <= 1e-15 ? std::max(1e-6, h0 * 1e-3)
                                         : std::pow(0.01 / std::max(d1, d2), 1.0 / 5.0);
  double h = std::min({100 * h0, h1, span});

  while (direction * (o.t_end - t) > 1e-12) {
    if (result.accepted + result.rejected >= o.max_steps)
      throw Error("rk45: exceeded " + std::to_string(o.max_steps) + " steps (rtol " +
                  std::to_string(o.rtol) + ", atol " + std::to_string(o.atol) + ")");
    h = std::min(h, std::fabs(o.t_end - t));
    double hs = direction * h;
    auto k2 = f(x + hs * (a21 * k1), t + c2 * hs);
    auto k3 = f(x + hs * (a31 * k1 + a32 * k2), t + c3 * hs);
    auto k4 = f(x + hs * (a41 * k1 + a42 * k2 + a43 * k3), t + c4 * hs);
    auto k5 = f(x + hs * (a51 * k1 + a52 * k2 + a53 * k3 + a54 * k4), t + c5 * hs);
    auto k6 = f(x + hs * (a61 * k1 + a62 * k2 + a63 * k3 + a64 * k4 + a65 * k5), t + hs);
    auto x_new = x + hs * (b1 * k1 + b3 * k3 + b4 * k4 + b5 * k5 + b6 * k6);
    auto k7 = f(x_new, t + hs);
    auto err = hs * (e1 * k1 + e3 * k3 + e4 * k4 + e5 * k5 + e6 * k6 + e7 * k7);
    double err_norm = scaled_rms(err, x, x_new, o.rtol, o.atol);
    if (err_norm <= 1.0) {
      t += hs;
      x = after_step(hook, x_new, t);
      // FSAL: the last stage is the next step's first, unless a hook changed x.
      k1 = hook ? f(x, t) : k7;
      ++result.accepted;
    } else {
      ++result.rejected;
    }
    double factor = err_norm == 0.0 ? 10.0 : 0.9 * std::pow(err_norm, -1.0 / 5.0);
    h *= std::clamp(factor, 0.2, 10.0);
  }
  result.x = x;
  return result;
}

namespace {

// The fixed-step samplers' grid; the sde sampler's last step may have a length of its own.
std::vector<double> grid_of(const SamplingConfig& s, double last_step = 0.0) {
  return time_grid(s.schedule, s.steps, s.shift, last_step);
}

}  // namespace

const std::vector<FlowSampler>& flow_samplers() {
  static const std::vector<FlowSampler> samplers = {
      {{"euler", "explicit Euler, first order", 1},
       [](const VelocityFn& v, torch::Tensor x, const SamplingConfig& s, const StepHook& hook) {
         return euler_sample(v, x, grid_of(s), hook);
       }},
      {{"heun", "Heun (Karras et al. 2022), second order", 2},
       [](const VelocityFn& v, torch::Tensor x, const SamplingConfig& s, const StepHook& hook) {
         return heun_sample(v, x, grid_of(s), hook);
       }},
      {{"midpoint", "explicit midpoint, second order", 2},
       [](const VelocityFn& v, torch::Tensor x, const SamplingConfig& s, const StepHook& hook) {
         return midpoint_sample(v, x, grid_of(s), hook);
       }},
      {{"rk45", "adaptive Dormand-Prince 5(4) to sampling.rtol and atol (steps ignored)", 0},
       [](const VelocityFn& v, torch::Tensor x, const SamplingConfig& s, const StepHook& hook) {
         AdaptiveOptions options;
         options.rtol = s.rtol;
         options.atol = s.atol;
         return rk45_sample(v, x, options, hook).x;
       }},
      {{"sde",
        "Euler-Maruyama on SiT's reverse SDE, diffusion sampling.sde_diffusion times sde_norm, a noise-free "
        "last step (sampling.sde_last_step long when > 0)",
        1},
       [](const VelocityFn& v, torch::Tensor x, const SamplingConfig& s, const StepHook& hook) {
         return sde_sample(v, x, grid_of(s, s.sde_last_step), s.sde_diffusion, s.sde_norm, hook);
       }},
      {{"dpmpp_2m", "DPM-Solver++(2M) (Lu et al. 2022) on alpha = 1 - t, sigma = t, second order", 1},
       [](const VelocityFn& v, torch::Tensor x, const SamplingConfig& s, const StepHook& hook) {
         return dpm_solver_pp_2m_flow(v, x, grid_of(s), hook);
       }},
  };
  return samplers;
}

OdeResult sample_flow(const SamplingConfig& sampling, const VelocityFn& v, torch::Tensor x, const StepHook& hook) {
  const auto& sampler = find_entry(flow_samplers(), sampling.sampler, "sampling.sampler");
  OdeResult result;
  VelocityFn counted = [&](const torch::Tensor& xs, const torch::Tensor& t) {
    ++result.nfe;
    return v(xs, t);
  };
  result.x = sampler.run(counted, x, sampling, hook);
  return result;
}

}  // namespace flowlab
