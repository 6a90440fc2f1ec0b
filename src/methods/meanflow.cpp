#include "flowlab/methods/meanflow.h"

#include <torch/csrc/autograd/autograd.h>

#include "flowlab/error.h"
#include "flowlab/methods/time_sampling.h"
#include "flowlab/models/autocast.h"
#include "flowlab/sampling/guidance.h"

namespace flowlab {
namespace {

// Forward-mode AD level, exited on scope end even when the network throws.
class DualLevel {
 public:
  DualLevel() : level_(torch::autograd::forward_ad::enter_dual_level()) {}
  ~DualLevel() { torch::autograd::forward_ad::exit_dual_level(level_); }
  int64_t level() const { return static_cast<int64_t>(level_); }

 private:
  uint64_t level_;
};

torch::Tensor rows(const torch::Tensor& x, const torch::Tensor& index) { return x.index_select(0, index); }

}  // namespace

namespace {

// (u, du/dt): u(z, r, t) with its backward graph, and its JVP along (v, 0, 1) in (z, r, t).
std::pair<torch::Tensor, torch::Tensor> u_and_time_derivative(Backbone& model, const torch::Tensor& z,
                                                              const torch::Tensor& v,
                                                              const torch::Tensor& r,
                                                              const torch::Tensor& t,
                                                              const torch::Tensor& y) {
  FullPrecisionScope fp32;  // the JVP in fp32 under bf16 autocast, as the MeanFlow authors do
  DualLevel dual;
  auto z_dual = at::_make_dual(z, v, dual.level());
  auto t_dual = at::_make_dual(t, torch::ones_like(t), dual.level());
  auto unpacked = at::_unpack_dual(model.forward_interval(z_dual, r, t_dual, y), dual.level());
  auto u = std::get<0>(unpacked).clone();  // out of the level; keeps the backward graph
  auto dudt = std::get<1>(unpacked);
  dudt = dudt.defined() ? dudt.detach().clone() : torch::zeros_like(u);
  return {u, dudt};
}

}  // namespace

torch::Tensor meanflow_jvp(Backbone& model, const torch::Tensor& z, const torch::Tensor& v,
                           const torch::Tensor& r, const torch::Tensor& t, const torch::Tensor& y) {
  return u_and_time_derivative(model, z, v, r, t, y).second;
}

MeanFlowTarget meanflow_target(Backbone& model, const torch::Tensor& z, const torch::Tensor& v,
                               const torch::Tensor& r, const torch::Tensor& t, const torch::Tensor& y) {
  auto [u, dudt] = u_and_time_derivative(model, z, v, r, t, y);
  return {u, (v - (t - r).view({-1, 1, 1, 1}) * dudt).detach()};
}

LossOutput MeanFlowMethod::loss(Backbone& model, const torch::Tensor& x, const torch::Tensor& y,
                                StepRandom& rng) {
  const int64_t n = x.size(0);
  auto opts = x.options();
  auto logit_normal = [&](int64_t rows) {
    return sample_times("logit_normal", rows, config_.p_mean, config_.p_std, opts);
  };
  auto a = rng.rows(n, logit_normal);
  auto b = rng.rows(n, logit_normal);
  auto t = torch::maximum(a, b);
  auto interval = rng.rand(n, opts.dtype(torch::kFloat32)) < config_.ratio_r_neq_t;
  auto r = torch::where(interval, torch::minimum(a, b), t);
  auto eps = rng.randn_like(x);
  auto tb = t.view({-1, 1, 1, 1});
  auto z = (1 - tb) * x + tb * eps;
  auto v = eps - x;

  if (config_.guidance_w != 1.0 && model.num_classes() > 0) {
    // Guidance trained in (Sec. 4.2): v~ = w v + kappa u(z, t, t | y) + (1 - w - kappa) u(z, t, t | null)
    // on the conditional rows.
    torch::NoGradGuard no_grad;
    auto null = torch::full_like(y, model.null_label());
    auto both = model.forward_interval(torch::cat({z, z}), torch::cat({t, t}), torch::cat({t, t}),
                                       torch::cat({y, null}));
    auto u_cond = both.slice(0, 0, n), u_null = both.slice(0, n);
    auto guided = config_.guidance_w * v + config_.guidance_kappa * u_cond +
                  (1 - config_.guidance_w - config_.guidance_kappa) * u_null;
    v = torch::where((y != model.null_label()).view({-1, 1, 1, 1}), guided, v);
  }

  // JVP only where r < t; the other rows are plain flow matching.
  auto jvp_rows = torch::nonzero(r < t).view({-1});
  auto fm_rows = torch::nonzero(r >= t).view({-1});
  std::vector<torch::Tensor> us, targets;
  if (jvp_rows.numel() > 0) {
    auto mt = meanflow_target(model, rows(z, jvp_rows), rows(v, jvp_rows), rows(r, jvp_rows),
                              rows(t, jvp_rows), rows(y, jvp_rows));
    us.push_back(mt.u);
    targets.push_back(mt.target);
  }
  if (fm_rows.numel() > 0) {
    auto t_fm = rows(t, fm_rows);
    us.push_back(model.forward_interval(rows(z, fm_rows), t_fm, t_fm, rows(y, fm_rows)));
    targets.push_back(rows(v, fm_rows));
  }
  auto diff = torch::cat(us) - torch::cat(targets);
  auto per_sample = diff.pow(2).sum({1, 2, 3});
  // Adaptive weighting w = stopgrad(1 / (||delta||^2 + c)^p) (Sec. 4.3).
  auto weight = (per_sample.detach() + config_.adaptive_c).pow(-config_.adaptive_p);
  LossOutput out;
  out.loss = (weight * per_sample).mean();
  out.metrics["mse"] = diff.detach().pow(2).mean();
  return out;
}

SampleOutput MeanFlowMethod::sample(Backbone& model, const torch::Tensor& noise, const torch::Tensor& y,
                                    const SamplingConfig& sampling, const StepHook& hook) {
  if (sampling.sampler != "meanflow")
    throw Error("sampler '" + sampling.sampler + "' does not apply to a MeanFlow model (use meanflow)");
  c10::InferenceMode inference;  // no autograd bookkeeping at all while sampling
  auto times = uniform_time_grid(sampling.steps);
  auto z = noise;
  SampleOutput out;
  for (size_t i = 0; i + 1 < times.size(); ++i) {
    double t = times[i], r = times[i + 1];
    ConditionalFn net = [&model, r](const torch::Tensor& x, const torch::Tensor& tt,
                                    const torch::Tensor& labels) {
      return model.forward_interval(x, torch::full_like(tt, r), tt, labels);
    };
    auto u = classifier_free_guidance(net, y, model.null_label(), sampling.cfg_scale)(
        z, torch::full({z.size(0)}, t, z.options()));
    z = z - (t - r) * u;
    ++out.nfe;
    if (hook) z = hook(z, r);
  }
  out.x = z;
  return out;
}

}  // namespace flowlab
