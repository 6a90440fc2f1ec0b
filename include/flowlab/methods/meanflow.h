// MeanFlow (Geng et al. 2025, arXiv 2505.13447): the network u(z, r, t) learns the average
// velocity over [r, t], so one evaluation moves noise to data: x = eps - u(eps, 0, 1).
// Path z_t = (1 - t) x + t eps, v = eps - x (t = 0 data). Training target (eq. 10):
//   u_tgt = stopgrad(v - (t - r) du/dt),  du/dt = v . d_z u + d_t u,
// the JVP of u along the tangent (v, 0, 1) in (z, r, t), from LibTorch's forward-mode AD, on the
// rows with r < t only (rows with r = t are plain flow matching, u_tgt = v).
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

// u (differentiable w.r.t. the parameters) and u_tgt (detached) for every row; the JVP runs on the
// rows with r < t (r = t gives u_tgt = v exactly). jvp_pass: "separate" or "fused", as in
// MeanFlowConfig. z, v: (N, C, H, W); r, t: (N,); y: (N,).
MeanFlowTarget meanflow_target(Backbone& model, const torch::Tensor& z, const torch::Tensor& v,
                               const torch::Tensor& r, const torch::Tensor& t, const torch::Tensor& y,
                               const std::string& jvp_pass = "separate");

// du/dt along (v, 0, 1) by forward-mode AD, detached. Exposed for tests.
torch::Tensor meanflow_jvp(Backbone& model, const torch::Tensor& z, const torch::Tensor& v,
                           const torch::Tensor& r, const torch::Tensor& t, const torch::Tensor& y);

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
  // sampling.steps uniform steps z_r = z_t - (t - r) u(z_t, r, t) from t = 1 to 0 (1 = one NFE);
  // sampling.cfg_scale != 1 adds sampling-time CFG (two passes as one double batch).
  SampleOutput sample(Backbone& model, const torch::Tensor& noise, const torch::Tensor& y,
                      const SamplingConfig& sampling, const StepHook& hook = nullptr) override;

 private:
  MeanFlowConfig config_;
};

// method.name meanflow: two-time backbones, k-step sampling.
MethodEntry meanflow_entry();

}  // namespace flowlab
