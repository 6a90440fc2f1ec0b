#include "flowlab/sampling/dpm_solver.h"

#include <cmath>
#include <limits>

#include "flowlab/error.h"

namespace flowlab {

torch::Tensor dpm_solver_pp_2m(const std::function<torch::Tensor(const torch::Tensor&, size_t)>& data_prediction,
                               torch::Tensor x, const std::vector<double>& alphas, const std::vector<double>& sigmas,
                               const std::vector<double>& times, const StepHook& hook) {
  const double infinite = std::numeric_limits<double>::infinity();
  torch::Tensor x0_before;
  double h_before = infinite;
  for (size_t i = 0; i + 1 < alphas.size(); ++i) {
    const double a = alphas[i], s = sigmas[i], a_next = alphas[i + 1], s_next = sigmas[i + 1];
    auto x0 = data_prediction(x, i);
    const bool endless = a == 0 || s_next == 0;  // from pure noise or to clean data
    const double decay = endless ? 0.0 : (a * s_next) / (s * a_next);  // e^{-h}
    const double h = endless ? infinite : -std::log(decay);
    auto d = x0;
    if (!endless && std::isfinite(h_before)) {
      const double half_inverse_r = h / (2 * h_before);  // 1 / (2 r)
      d = (1 + half_inverse_r) * x0 - half_inverse_r * x0_before;
    }
    x = (s_next / s) * x - a_next * (decay - 1) * d;
    if (hook) x = hook(x, times[i + 1]);
    x0_before = x0;
    h_before = h;
  }
  return x;
}

torch::Tensor dpm_solver_pp_2m_flow(const VelocityFn& v, torch::Tensor x, const std::vector<double>& times,
                                    const StepHook& hook) {
  std::vector<double> alphas, sigmas;
  for (double t : times) {
    alphas.push_back(1 - t);
    sigmas.push_back(t);
  }
  auto x0 = [&](const torch::Tensor& state, size_t i) {
    return state - times[i] * v(state, torch::full({state.size(0)}, times[i], state.options().dtype(torch::kFloat32)));
  };
  return dpm_solver_pp_2m(x0, std::move(x), alphas, sigmas, times, hook);
}

torch::Tensor dpm_solver_pp_2m_diffusion(const DenoiseFn& denoise, const NoiseSchedule& schedule, torch::Tensor x,
                                         const std::vector<int64_t>& path, const StepHook& hook) {
  std::vector<double> alphas, sigmas, times;
  for (size_t i = 0; i < path.size(); ++i) {
    if (i > 0 && path[i] >= path[i - 1])
      throw Error("the dpmpp_2m sampler walks down only; sampling.resample_repeats must be 1");
    const double ab = path[i] == 0 ? 1.0 : schedule.alpha_bar(path[i]);
    alphas.push_back(std::sqrt(ab));
    sigmas.push_back(std::sqrt(1 - ab));
    times.push_back(static_cast<double>(path[i]) / static_cast<double>(schedule.steps()));
  }
  auto x0 = [&](const torch::Tensor& state, size_t i) { return denoise(state, path[i]).x0; };
  return dpm_solver_pp_2m(x0, std::move(x), alphas, sigmas, times, hook);
}

}  // namespace flowlab
