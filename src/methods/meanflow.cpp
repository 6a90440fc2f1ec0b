#include "flowlab/methods/meanflow.h"

#include <torch/csrc/autograd/autograd.h>

#include "flowlab/error.h"
#include "flowlab/named_entries.h"
#include "flowlab/methods/flow_path.h"
#include "flowlab/methods/time_sampling.h"
#include "flowlab/models/autocast.h"
#include "flowlab/models/embeddings.h"
#include "flowlab/sampling/guidance.h"
#include "flowlab/sampling/time_grids.h"

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

// One forward-mode pass without a backward graph: neither for u nor for the tangents, which
// autograd would otherwise record because they depend on the weights.
torch::Tensor meanflow_jvp(Backbone& model, const torch::Tensor& z, const torch::Tensor& tangent,
                           const torch::Tensor& r, const torch::Tensor& t, const torch::Tensor& y,
                           const torch::Tensor& guidance) {
  FullPrecisionScope fp32;  // the JVP in fp32 under bf16 autocast, as the MeanFlow authors do
  torch::NoGradGuard no_grad;
  DualLevel dual;
  auto z_dual = at::_make_dual(z, tangent, dual.level());
  auto t_dual = at::_make_dual(t, torch::ones_like(t), dual.level());
  auto dudt = std::get<1>(
      at::_unpack_dual(interval_of(model).forward_interval(z_dual, r, t_dual, y, guidance), dual.level()));
  return dudt.defined() ? dudt.clone() : torch::zeros_like(z);  // clone: out of the level
}

MeanFlowTarget meanflow_target(Backbone& model, const torch::Tensor& z, const torch::Tensor& v,
                               const torch::Tensor& r, const torch::Tensor& t, const torch::Tensor& y,
                               const std::string& jvp_pass, const torch::Tensor& tangent,
                               const torch::Tensor& guidance) {
  const auto& along = tangent.defined() ? tangent : v;
  auto dudt = torch::zeros_like(z);
  torch::Tensor u;
  if (jvp_pass == "fused") {
    // One pass: u with its graph, du/dt along (tangent, 0, 1) without one (models/jet.h), on every
    // row; the rows with r = t multiply it by t - r = 0.
    FullPrecisionScope fp32;
    auto out = interval_of(model).forward_interval_jet(Jet(z, along), r, Jet(t, torch::ones_like(t)), y, guidance);
    u = out.value;
    dudt = out.tangent.to(z.scalar_type());
  } else {
    if (jvp_pass != "separate")
      throw Error("meanflow.jvp_pass must be separate or fused, got " + jvp_pass);
    u = interval_of(model).forward_interval(z, r, t, y, guidance);
    // The JVP only where r < t; rows with r = t are plain flow matching (u_tgt = v).
    auto jvp_rows = torch::nonzero(r < t).view({-1});
    if (jvp_rows.numel() > 0)
      dudt.index_copy_(0, jvp_rows,
                       meanflow_jvp(model, rows(z, jvp_rows), rows(along, jvp_rows), rows(r, jvp_rows),
                                    rows(t, jvp_rows), rows(y, jvp_rows),
                                    guidance.defined() ? rows(guidance, jvp_rows) : guidance));
  }
  return {u, (v - (t - r).view({-1, 1, 1, 1}) * dudt).detach()};
}

torch::Tensor meanflow_velocity(Backbone& model, const torch::Tensor& z, const torch::Tensor& t,
                                const torch::Tensor& y, const torch::Tensor& guidance) {
  torch::NoGradGuard no_grad;
  return interval_of(model).forward_interval(z, t, t, y, guidance);
}

torch::Tensor draw_guidance_inputs(StepRandom& rng, const torch::Tensor& r, const torch::Tensor& t, double omega_min,
                                   double omega_max) {
  const int64_t n = t.size(0);
  const auto opts = t.options().dtype(torch::kFloat32);
  auto omega = omega_min * torch::exp(rng.rand(n, opts) * std::log(omega_max / omega_min));
  auto flow_matching = r == t;
  auto t_min = torch::where(flow_matching, torch::zeros_like(omega), 0.5 * rng.rand(n, opts));
  auto t_max = torch::where(flow_matching, torch::ones_like(omega), 0.5 + 0.5 * rng.rand(n, opts));
  return torch::stack({omega, t_min, t_max}, 1);
}

GuidedFields guided_fields_from_inputs(Backbone& model, const torch::Tensor& z, const torch::Tensor& t,
                                       const torch::Tensor& y, const torch::Tensor& v, const torch::Tensor& guidance) {
  torch::NoGradGuard no_grad;
  const int64_t n = z.size(0);
  auto omega = guidance.select(1, 0);
  auto inside = (t >= guidance.select(1, 1)) & (t <= guidance.select(1, 2));
  auto w = torch::where(inside, omega, torch::ones_like(omega));
  // Both velocities at r = t on the whole time range: v_c at scale w, v_u unguided.
  auto told_c = torch::stack({w, torch::zeros_like(w), torch::ones_like(w)}, 1);
  auto told_u = detail::unguided_inputs(n, w.options());
  auto null = torch::full_like(y, model.null_label());
  auto both = interval_of(model).forward_interval(torch::cat({z, z}), torch::cat({t, t}), torch::cat({t, t}),
                                                  torch::cat({y, null}), torch::cat({told_c, told_u}));
  auto v_c = both.slice(0, 0, n), v_u = both.slice(0, n);
  auto guided = v + (1.0 - 1.0 / w).view({-1, 1, 1, 1}) * (v_c - v_u);
  return {torch::where((y == model.null_label()).view({-1, 1, 1, 1}), v, guided), v_c};
}

torch::Tensor meanflow_guided_velocity(Backbone& model, const torch::Tensor& z, const torch::Tensor& t,
                                       const torch::Tensor& y, const torch::Tensor& v, double w,
                                       double kappa, GuidanceInterval interval) {
  // w = 1, kappa = 0 is v itself; any other pair guides (w = 1, kappa > 0: scale 1 / (1 - kappa)).
  if ((w == 1.0 && kappa == 0.0) || model.num_classes() == 0) return v;
  auto guided_rows = (y != model.null_label()) & (t >= interval.t_min) & (t <= interval.t_max);
  // Skipping the two network calls needs a host sync: only where an interval can exclude every row.
  if (!interval.everywhere() && !guided_rows.any().item<bool>()) return v;
  torch::NoGradGuard no_grad;
  const int64_t n = z.size(0);
  auto null = torch::full_like(y, model.null_label());
  auto both = interval_of(model).forward_interval(torch::cat({z, z}), torch::cat({t, t}), torch::cat({t, t}),
                                     torch::cat({y, null}));
  auto u_cond = both.slice(0, 0, n), u_null = both.slice(0, n);
  auto guided = w * v + kappa * u_cond + (1 - w - kappa) * u_null;
  return torch::where(guided_rows.view({-1, 1, 1, 1}), guided, v);
}

LossOutput MeanFlowMethod::loss(Network& network, const torch::Tensor& x, const torch::Tensor& y,
                                StepRandom& rng) {
  auto& model = as_backbone(network);
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
  auto z = FlowPath::at(x, eps, t);
  auto v = FlowPath::velocity(x, eps);
  torch::Tensor velocity, tangent, guidance;  // the regression's velocity, the JVP's tangent, the inputs told
  if (config_.guidance_conditioning) {
    guidance = draw_guidance_inputs(rng, r, t, config_.omega_min, config_.omega_max);
    auto fields = guided_fields_from_inputs(model, z, t, y, v, guidance);
    velocity = fields.velocity;
    tangent = fields.model_velocity;
  } else {
    velocity = meanflow_guided_velocity(model, z, t, y, v, config_.guidance_w, config_.guidance_kappa,
                                        {config_.guidance_t_min, config_.guidance_t_max});
    if (config_.objective == "v_loss") tangent = meanflow_velocity(model, z, t, y);
  }
  if (config_.objective == "u_loss") tangent = velocity;  // MeanFlow: along the (guided) conditional velocity
  auto [u, target] = meanflow_target(model, z, velocity, r, t, y, config_.jvp_pass, tangent, guidance);
  auto diff = u - target;
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
  find_entry(method_entry(name()).samplers, sampling.sampler, "sampling.sampler");
  c10::InferenceMode inference;  // no autograd bookkeeping at all while sampling
  auto& network = interval_of(model);
  AverageVelocityFn velocity;
  int64_t rows = 0;
  if (network.takes_guidance()) {
    // Told the scale and interval: one evaluation per step at any scale.
    auto told = torch::tensor({sampling.cfg_scale, sampling.cfg_t_min, sampling.cfg_t_max},
                              noise.options().dtype(torch::kFloat32))
                    .repeat({noise.size(0), 1});
    velocity = [&network, &rows, y, told](const torch::Tensor& x, const torch::Tensor& r, const torch::Tensor& t) {
      rows += x.size(0);
      return network.forward_interval(x, r, t, y, told);
    };
  } else {
    IntervalConditionalFn net = [&network, &rows](const torch::Tensor& x, const torch::Tensor& r,
                                                  const torch::Tensor& t, const torch::Tensor& labels) {
      rows += x.size(0);
      return network.forward_interval(x, r, t, labels);
    };
    velocity = interval_guidance(net, y, model.null_label(), sampling.cfg_scale,
                                 {sampling.cfg_t_min, sampling.cfg_t_max}, sampling.cfg_channels);
  }
  SampleOutput out;
  out.x = mean_flow_sample(velocity, noise, time_grid(sampling.schedule, sampling.steps, sampling.shift), hook);
  out.nfe = sampling.steps;
  out.evaluations = rows / std::max<int64_t>(1, noise.size(0));
  return out;
}

MethodEntry meanflow_entry() {
  MethodEntry e;
  e.name = "meanflow";
  e.samplers = {{"meanflow", "x <- x - (t - r) u(x, r, t) over the grid's intervals (1 step: one-step generation)", 1}};
  e.default_steps = 1;
  e.two_time = true;
  e.check = [](const Config& c) {
    if (c.meanflow.guidance_conditioning && c.model.num_classes == 0)
      throw Error("config: meanflow.guidance_conditioning learns classifier-free guidance, which needs classes "
                  "(model.num_classes is 0)");
  };
  e.make = [](const Config& c) -> MethodPtr { return std::make_unique<MeanFlowMethod>(c.meanflow); };
  return e;
}

}  // namespace flowlab
