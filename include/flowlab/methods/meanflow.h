// MeanFlow (Geng et al. 2025, arXiv 2505.13447): the network u(z, r, t) learns the average
// velocity over [r, t], so one evaluation moves noise to data: x = eps - u(eps, 0, 1).
// Path z_t = (1 - t) x + t eps, v = eps - x (t = 0 data). Training target (eq. 10):
//   u_tgt = stopgrad(v - (t - r) du/dt),  du/dt = v . d_z u + d_t u,
// the JVP of u along the tangent (v, 0, 1) in (z, r, t), from LibTorch's forward-mode AD, on the
// rows with r < t only (rows with r = t are plain flow matching, u_tgt = v).
//
// Improved MeanFlow (iMF; Geng, Lu et al. 2025, arXiv 2512.02012), meanflow.objective v_loss:
// the loss is on the instantaneous velocity, through the compound V = u + (t - r) stopgrad(du/dt)
// regressed onto v (its Sec. 4, the authors' imf.py), and the JVP runs along the network's own
// velocity v_theta(z_t, t) instead of the noisy conditional v. flowlab takes v_theta = u(z, t, t),
// the boundary condition of the average velocity, where the authors add an auxiliary v head to
// the network; the rows with r = t train it by plain flow matching. Both objectives minimise
// |u - stopgrad(v - (t - r) du/dt)|^2; they differ only in the tangent.
//
// Guidance as an input (meanflow.guidance_conditioning, iMF Sec. 5): each row draws its scale
// omega and interval [t_min, t_max], and the network is told them (IntervalBackbone's guidance).
// Its target is the authors' guided velocity v_g = v + (1 - 1/w)(v_c - v_u), w = omega inside
// the interval and 1 outside, with v_c = u(z, t, t | y, w) and v_u = u(z, t, t | null, 1) the
// network's own guided and unconditional velocities; v_c is also the v-loss's tangent.
#pragma once
#include "flowlab/config.h"
#include "flowlab/methods/method.h"
#include "flowlab/methods/registry.h"
#include "flowlab/sampling/guidance.h"

namespace flowlab {

struct MeanFlowTarget {
  torch::Tensor u;       // (N, C, H, W) prediction, differentiable w.r.t. the parameters
  torch::Tensor target;  // (N, C, H, W) detached
};

// u (differentiable w.r.t. the parameters) and u_tgt = v - (t - r) du/dt (detached) for every
// row, du/dt along (tangent, 0, 1): v itself when `tangent` is undefined (u_loss), the network's
// velocity for v_loss. The JVP runs on the rows with r < t (r = t gives u_tgt = v exactly).
// jvp_pass: "separate" or "fused", as in MeanFlowConfig. z, v, tangent: (N, C, H, W); r, t: (N,);
// y: (N,); guidance: (N, 3) inputs for a network that takes them, or undefined.
MeanFlowTarget meanflow_target(Backbone& model, const torch::Tensor& z, const torch::Tensor& v,
                               const torch::Tensor& r, const torch::Tensor& t, const torch::Tensor& y,
                               const std::string& jvp_pass = "separate", const torch::Tensor& tangent = {},
                               const torch::Tensor& guidance = {});

// du/dt along (tangent, 0, 1) by forward-mode AD, detached. Exposed for tests.
torch::Tensor meanflow_jvp(Backbone& model, const torch::Tensor& z, const torch::Tensor& tangent,
                           const torch::Tensor& r, const torch::Tensor& t, const torch::Tensor& y,
                           const torch::Tensor& guidance = {});

// The network's instantaneous velocity u(z, t, t | y), detached: the v-loss's tangent.
torch::Tensor meanflow_velocity(Backbone& model, const torch::Tensor& z, const torch::Tensor& t,
                                const torch::Tensor& y, const torch::Tensor& guidance = {});

// Guidance as an input: each row's (omega, t_min, t_max), (N, 3) float. omega log-uniform in
// [omega_min, omega_max]; t_min uniform in [0, 0.5] and t_max in [0.5, 1], except [0, 1] on the
// rows with r = t (as the authors draw them).
torch::Tensor draw_guidance_inputs(StepRandom& rng, const torch::Tensor& r, const torch::Tensor& t, double omega_min,
                                   double omega_max);

struct GuidedFields {
  torch::Tensor velocity;        // v_g, the regression's velocity (detached)
  torch::Tensor model_velocity;  // v_c = u(z, t, t | y, w), the v-loss's tangent (detached)
};
// iMF's guided velocity for a network told `guidance` (N, 3): see the top of this file. v on the
// rows whose label is the null class (CFG dropout trains the unguided field there).
GuidedFields guided_fields_from_inputs(Backbone& model, const torch::Tensor& z, const torch::Tensor& t,
                                       const torch::Tensor& y, const torch::Tensor& v, const torch::Tensor& guidance);

// Guidance trained in (Sec. 4.2): on the conditional rows with t in `interval`, v~ = w v +
// kappa u(z, t, t | y) + (1 - w - kappa) u(z, t, t | null), detached; v itself where w = 1 and
// kappa = 0, on the null rows, outside the interval and for unconditional models.
// z, v: (N, C, H, W); t: (N,); y: (N,).
torch::Tensor meanflow_guided_velocity(Backbone& model, const torch::Tensor& z, const torch::Tensor& t,
                                       const torch::Tensor& y, const torch::Tensor& v, double w,
                                       double kappa, GuidanceInterval interval = {});

class MeanFlowMethod : public Method {
 public:
  explicit MeanFlowMethod(MeanFlowConfig config) : config_(std::move(config)) {}
  std::string name() const override { return "meanflow"; }
  LossOutput loss(Network& model, const torch::Tensor& x, const torch::Tensor& y,
                  StepRandom& rng) override;
  // sampling.steps uniform steps z_r = z_t - (t - r) u(z_t, r, t) from t = 1 to 0 (1 = one NFE).
  // A network with guidance inputs is told (cfg_scale, cfg_t_min, cfg_t_max): one evaluation per
  // step at any scale. Otherwise sampling.cfg_scale != 1 adds sampling-time CFG (the conditional
  // and null passes as one double batch).
  SampleOutput sample(Backbone& model, const torch::Tensor& noise, const torch::Tensor& y,
                      const SamplingConfig& sampling, const StepHook& hook = nullptr) override;

 private:
  MeanFlowConfig config_;
};

// method.name meanflow: two-time backbones, k-step sampling.
MethodEntry meanflow_entry();

}  // namespace flowlab
