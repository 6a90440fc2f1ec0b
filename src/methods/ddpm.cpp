#include "flowlab/methods/ddpm.h"

#include <cmath>

#include "flowlab/error.h"
#include "flowlab/sampling/guidance.h"

namespace flowlab {

std::vector<int64_t> respaced_steps(int64_t total, int64_t count) {
  count = std::clamp<int64_t>(count, 1, total);
  std::vector<int64_t> steps;
  for (int64_t k = 0; k < count; ++k) {
    double position = count == 1 ? static_cast<double>(total)
                                 : 1.0 + static_cast<double>(total - 1) * k / (count - 1);
    int64_t t = std::llround(position);
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

DdpmMethod::DdpmMethod(DdpmConfig config)
    : config_(std::move(config)), schedule_(NoiseSchedule::named(config_.schedule, config_.timesteps)) {}

LossOutput DdpmMethod::loss(Backbone& model, const torch::Tensor& x, const torch::Tensor& y,
                            StepRandom& rng) {
  int64_t T = schedule_.steps();
  auto t = rng.rows(x.size(0), [&](int64_t n) {
    return torch::randint(1, T + 1, {n}, x.options().dtype(torch::kInt64));
  });
  auto ab = schedule_.alpha_bar_at(t);
  auto eps = rng.randn_like(x);
  auto x_t = NoiseSchedule::q_sample(x, ab, eps);
  auto pred = model.forward(x_t, t.to(torch::kFloat32) / static_cast<double>(T), y);
  auto target = config_.prediction == "v" ? ab.sqrt() * eps - (1 - ab).sqrt() * x : eps;
  LossOutput out;
  out.loss = torch::mse_loss(pred, target);
  return out;
}

SampleOutput DdpmMethod::sample(Backbone& model, const torch::Tensor& noise, const torch::Tensor& y,
                                const SamplingConfig& sampling, const StepHook& hook) {
  if (sampling.sampler != "ddpm" && sampling.sampler != "ddim")
    throw Error("sampler '" + sampling.sampler + "' does not apply to a DDPM model (use ddpm or ddim)");
  c10::InferenceMode inference;  // no autograd bookkeeping at all while sampling
  const int64_t T = schedule_.steps();
  const bool ancestral = sampling.sampler == "ddpm";
  ConditionalFn net = [&model](const torch::Tensor& x, const torch::Tensor& t,
                               const torch::Tensor& labels) { return model.forward(x, t, labels); };
  auto guided = classifier_free_guidance(net, y, model.null_label(), sampling.cfg_scale);

  // Level i >= 1 is respaced step steps[i - 1]; level 0 is clean data.
  auto steps = respaced_steps(T, sampling.steps);
  auto step_at = [&steps](int64_t level) { return level > 0 ? steps[level - 1] : int64_t{0}; };
  auto path = resampling_path(static_cast<int64_t>(steps.size()), sampling.resample_jump,
                              sampling.resample_repeats);
  auto x = noise;
  SampleOutput out;
  for (size_t k = 1; k < path.size(); ++k) {
    int64_t t = step_at(path[k - 1]), s = step_at(path[k]);
    double ab_t = schedule_.alpha_bar(t), ab_s = schedule_.alpha_bar(s);
    if (s > t) {
      // Back up the chain: q(x_s | x_t) = N(sqrt(ab_s / ab_t) x_t, (1 - ab_s / ab_t) I).
      x = std::sqrt(ab_s / ab_t) * x + std::sqrt(1 - ab_s / ab_t) * torch::randn_like(x);
      if (hook) x = hook(x, static_cast<double>(s) / T);
      continue;
    }
    auto pred = guided(x, torch::full({x.size(0)}, static_cast<double>(t) / T, x.options()));
    ++out.nfe;
    // Prediction -> (x0, eps).
    torch::Tensor x0, eps;
    if (config_.prediction == "v") {
      x0 = std::sqrt(ab_t) * x - std::sqrt(1 - ab_t) * pred;
      eps = std::sqrt(1 - ab_t) * x + std::sqrt(ab_t) * pred;
    } else {
      eps = pred;
      x0 = (x - std::sqrt(1 - ab_t) * eps) / std::sqrt(ab_t);
    }
    if (config_.clip_denoised) {
      x0 = x0.clamp(-1, 1);
      eps = (x - std::sqrt(ab_t) * x0) / std::sqrt(1 - ab_t);
    }
    if (ancestral) {
      auto post = NoiseSchedule::posterior(ab_t, ab_s);
      x = post.coef_x0 * x0 + post.coef_xt * x;
      if (s > 0) x = x + std::sqrt(post.variance) * torch::randn_like(x);
    } else {
      // DDIM, Song et al. 2021, eq. 12 with sigma from eq. 16.
      double sigma = s > 0 ? config_.eta * std::sqrt((1 - ab_s) / (1 - ab_t)) *
                                 std::sqrt(1 - ab_t / ab_s)
                           : 0.0;
      x = std::sqrt(ab_s) * x0 + std::sqrt(std::max(0.0, 1 - ab_s - sigma * sigma)) * eps;
      if (sigma > 0) x = x + sigma * torch::randn_like(x);
    }
    if (hook) x = hook(x, static_cast<double>(s) / T);
  }
  out.x = x;
  return out;
}

torch::Tensor DdpmMethod::noised(const torch::Tensor& x0, const torch::Tensor& eps, double t) const {
  double ab = schedule_.alpha_bar(std::llround(t * static_cast<double>(schedule_.steps())));
  return std::sqrt(ab) * x0 + std::sqrt(1 - ab) * eps;
}

MethodEntry ddpm_entry() {
  MethodEntry e;
  e.name = "ddpm";
  e.samplers = {"ddpm", "ddim"};
  e.resamples = true;
  e.flags = {{"timesteps", "ddpm.timesteps", "diffusion steps T"}};
  e.check = [](const Config& c) {
    if (c.sampling.steps > c.ddpm.timesteps)
      throw Error("config: sampling.steps (" + std::to_string(c.sampling.steps) +
                  ") exceeds ddpm.timesteps (" + std::to_string(c.ddpm.timesteps) + ")");
  };
  e.make = [](const Config& c) -> MethodPtr { return std::make_unique<DdpmMethod>(c.ddpm); };
  return e;
}

}  // namespace flowlab
