#include "flowlab/sampling/diffusion_samplers.h"

#include <algorithm>
#include <cmath>

namespace flowlab {
namespace {

// x_s from x_t and the denoiser's estimates, for a step down t -> s.
using Update = std::function<torch::Tensor(const torch::Tensor& x, const Denoised& d, double ab_t,
                                           double ab_s, bool last)>;

torch::Tensor walk(const DenoiseFn& denoise, const NoiseSchedule& schedule, torch::Tensor x,
                   const std::vector<int64_t>& path, const Update& update, const StepHook& hook) {
  const auto total = static_cast<double>(schedule.steps());
  for (size_t k = 1; k < path.size(); ++k) {
    int64_t t = path[k - 1], s = path[k];
    double ab_t = schedule.alpha_bar(t), ab_s = schedule.alpha_bar(s);
    if (s > t) {
      // Back up the chain: q(x_s | x_t) = N(sqrt(ab_s / ab_t) x_t, (1 - ab_s / ab_t) I).
      x = std::sqrt(ab_s / ab_t) * x + std::sqrt(1 - ab_s / ab_t) * torch::randn_like(x);
    } else {
      x = update(x, denoise(x, t), ab_t, ab_s, s == 0);
    }
    if (hook) x = hook(x, static_cast<double>(s) / total);
  }
  return x;
}

}  // namespace

std::vector<int64_t> respaced_steps(int64_t total, int64_t count) {
  count = std::clamp<int64_t>(count, 1, total);
  if (count == 1) return {total};
  std::vector<int64_t> steps;
  const double stride = static_cast<double>(total - 1) / static_cast<double>(count - 1);
  double position = 0;  // summed, as improved diffusion sums it, so every rounding agrees
  for (int64_t k = 0; k < count; ++k, position += stride) {
    int64_t t = 1 + static_cast<int64_t>(std::nearbyint(position));  // half to even, as Python's round
    if (steps.empty() || t != steps.back()) steps.push_back(t);
  }
  return steps;
}

std::vector<int64_t> resampling_path(int64_t levels, int64_t jump, int64_t repeats) {
  // Every level p with p % jump == 0 and p + jump <= levels is a jump point, left repeats - 1
  // times on the way down.
  std::vector<int64_t> jumps_left(levels + 1, 0);
  for (int64_t p = 0; p + jump <= levels; p += jump) jumps_left[p] = repeats - 1;
  std::vector<int64_t> path = {levels};
  int64_t p = levels;
  while (p > 0) {
    path.push_back(--p);
    if (jumps_left[p] > 0) {
      --jumps_left[p];
      for (int64_t j = 0; j < jump; ++j) path.push_back(++p);
    }
  }
  return path;
}

std::vector<int64_t> diffusion_step_path(int64_t total, int64_t steps, int64_t jump, int64_t repeats) {
  auto respaced = respaced_steps(total, steps);
  std::vector<int64_t> path;
  for (int64_t level : resampling_path(static_cast<int64_t>(respaced.size()), jump, repeats))
    path.push_back(level > 0 ? respaced[level - 1] : 0);
  return path;
}

torch::Tensor ddpm_ancestral_sample(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                                    torch::Tensor x, const std::vector<int64_t>& path,
                                    const StepHook& hook) {
  Update update = [](const torch::Tensor& x, const Denoised& d, double ab_t, double ab_s, bool last) {
    auto post = NoiseSchedule::posterior(ab_t, ab_s);
    auto mean = post.coef_x0 * d.x0 + post.coef_xt * x;
    if (last) return mean;
    if (!d.variance_fraction.defined()) return mean + std::sqrt(post.variance) * torch::randn_like(x);
    const double beta = 1 - ab_t / ab_s;  // of the (respaced) step t -> s
    auto log_variance = d.variance_fraction * std::log(beta) + (1 - d.variance_fraction) * std::log(post.variance);
    return mean + torch::exp(0.5 * log_variance) * torch::randn_like(x);
  };
  return walk(denoise, schedule, std::move(x), path, update, hook);
}

torch::Tensor ddim_sample(const DenoiseFn& denoise, const NoiseSchedule& schedule, torch::Tensor x,
                          const std::vector<int64_t>& path, double eta, const StepHook& hook) {
  Update update = [eta](const torch::Tensor&, const Denoised& d, double ab_t, double ab_s, bool last) {
    double sigma = last ? 0.0 : eta * std::sqrt((1 - ab_s) / (1 - ab_t)) * std::sqrt(1 - ab_t / ab_s);
    auto next = std::sqrt(ab_s) * d.x0 + std::sqrt(std::max(0.0, 1 - ab_s - sigma * sigma)) * d.eps;
    return sigma > 0 ? next + sigma * torch::randn_like(d.x0) : next;
  };
  return walk(denoise, schedule, std::move(x), path, update, hook);
}

}  // namespace flowlab
