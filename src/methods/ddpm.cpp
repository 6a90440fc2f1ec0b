#include "flowlab/methods/ddpm.h"

#include <cmath>

#include "flowlab/error.h"
#include "flowlab/named_entries.h"
#include "flowlab/sampling/diffusion_samplers.h"
#include "flowlab/sampling/dpm_solver.h"
#include "flowlab/sampling/guidance.h"

namespace flowlab {
namespace {

// DDPM's samplers as its entry lists them, each walking `path` (integer steps from T to 0).
using DiffusionSamplerFn = std::function<torch::Tensor(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                                                       torch::Tensor x, const std::vector<int64_t>& path,
                                                       const DdpmConfig& ddpm, const StepHook& hook)>;
using DiffusionSampler = SamplerEntry<DiffusionSamplerFn>;

const std::vector<DiffusionSampler>& diffusion_samplers() {
  static const std::vector<DiffusionSampler> samplers = {
      {{"ddpm", "ancestral sampling (Ho et al. 2020) over sampling.steps of the noise schedule", 1},
       [](const DenoiseFn& d, const NoiseSchedule& s, torch::Tensor x, const std::vector<int64_t>& path,
          const DdpmConfig&, const StepHook& hook) { return ddpm_ancestral_sample(d, s, x, path, hook); }},
      {{"ddim", "DDIM (Song et al. 2021), deterministic at ddpm.eta = 0", 1},
       [](const DenoiseFn& d, const NoiseSchedule& s, torch::Tensor x, const std::vector<int64_t>& path,
          const DdpmConfig& ddpm, const StepHook& hook) { return ddim_sample(d, s, x, path, ddpm.eta, hook); }},
      {{"dpmpp_2m", "DPM-Solver++(2M) (Lu et al. 2022), data prediction, second order, for 10 to 20 steps", 1},
       [](const DenoiseFn& d, const NoiseSchedule& s, torch::Tensor x, const std::vector<int64_t>& path,
          const DdpmConfig&, const StepHook& hook) { return dpm_solver_pp_2m_diffusion(d, s, x, path, hook); }},
  };
  return samplers;
}

}  // namespace

DdpmMethod::DdpmMethod(DdpmConfig config)
    : config_(std::move(config)),
      schedule_(NoiseSchedule::named(config_.schedule, config_.timesteps)),
      prediction_(config_.prediction) {}

LossOutput DdpmMethod::loss(Network& network, const torch::Tensor& x, const torch::Tensor& y,
                            StepRandom& rng) {
  auto& model = as_backbone(network);
  int64_t T = schedule_.steps();
  auto t = rng.rows(x.size(0), [&](int64_t n) {
    return torch::randint(1, T + 1, {n}, x.options().dtype(torch::kInt64));
  });
  auto ab = schedule_.alpha_bar_at(t);
  auto eps = rng.randn_like(x);
  auto x_t = NoiseSchedule::q_sample(x, ab, eps);
  // A variance output (model.learn_sigma) is not trained: improved DDPM's L_vlb is not implemented.
  auto pred = model.forward(x_t, t.to(torch::kFloat32) / static_cast<double>(T), y).slice(1, 0, x.size(1));
  LossOutput out;
  out.loss = torch::mse_loss(pred, prediction_.target(x, eps, ab));
  return out;
}

SampleOutput DdpmMethod::sample(Backbone& model, const torch::Tensor& noise, const torch::Tensor& y,
                                const SamplingConfig& sampling, const StepHook& hook) {
  const auto& sampler = find_entry(diffusion_samplers(), sampling.sampler, "sampling.sampler");
  c10::InferenceMode inference;  // no autograd bookkeeping at all while sampling
  const int64_t T = schedule_.steps();
  int64_t rows = 0;
  ConditionalFn net = [&model, &rows](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& labels) {
    rows += x.size(0);
    return model.forward(x, t, labels);
  };
  auto guided = classifier_free_guidance(net, y, model.null_label(), sampling.cfg_scale,
                                         {sampling.cfg_t_min, sampling.cfg_t_max}, sampling.cfg_channels);
  SampleOutput out;
  DenoiseFn denoise = [&](const torch::Tensor& x, int64_t t) {
    ++out.nfe;
    auto ab = torch::scalar_tensor(schedule_.alpha_bar(t), torch::kFloat64);
    auto time = torch::full({x.size(0)}, static_cast<double>(t) / T, x.options());
    auto output = guided(x, time);  // (N, C, H, W), or (N, 2C, H, W) with a variance output
    auto d = prediction_.denoised(x, output.slice(1, 0, x.size(1)), ab);
    if (config_.variance == "learned_range") d.variance_fraction = (output.slice(1, x.size(1)) + 1) / 2;
    if (config_.clip_denoised) {
      d.x0 = d.x0.clamp(-1, 1);
      d.eps = (x - ab.sqrt() * d.x0) / (1 - ab).sqrt();
    }
    return d;
  };
  auto path = diffusion_step_path(T, sampling.steps, sampling.resample_jump, sampling.resample_repeats);
  out.x = sampler.run(denoise, schedule_, noise, path, config_, hook);
  out.evaluations = rows / std::max<int64_t>(1, noise.size(0));
  return out;
}

torch::Tensor DdpmMethod::noised(const torch::Tensor& x0, const torch::Tensor& eps, double t) const {
  double ab = schedule_.alpha_bar(std::llround(t * static_cast<double>(schedule_.steps())));
  return std::sqrt(ab) * x0 + std::sqrt(1 - ab) * eps;
}

MethodEntry ddpm_entry() {
  MethodEntry e;
  e.name = "ddpm";
  e.samplers = sampler_infos(diffusion_samplers());
  e.resamples = true;
  e.inpaint_replacement = "fresh";  // measured better than the sample's own noise (docs/results.md)
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
