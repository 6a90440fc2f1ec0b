#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <optional>

#include "flowlab/methods/meanflow.h"
#include "flowlab/methods/registry.h"
#include "flowlab/models/dual_layers.h"
#include "flowlab/recipe.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/initial_weights.h"
#include "flowlab/training/trainer.h"
#include "jvp_pass_check.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

// A randomly initialised TinyUNetMeanFlow in double precision with non-zero output layers.
BackbonePtr random_backbone(const std::string& time_pair) {
  TempDir dir;
  auto c = tiny_meanflow_config(dir.path());
  c.model.time_pair = time_pair;
  return random_model(c, torch::kFloat64);
}

}  // namespace

TEST(MeanFlow, JvpMatchesCentralFiniteDifferenceForBothTimePairs) {
  for (const char* pair : {"t,t-r", "r,t"}) {
    auto model = random_backbone(pair);
    auto in = jvp_inputs(torch::kFloat64);
    auto jvp = meanflow_jvp(*model, in.z, in.v, in.r, in.t, in.y);
    // du/dt along (z, r, t) + h (v, 0, 1): r stays fixed.
    double h = 1e-7;  // the time embedding oscillates at up to 1000 t
    torch::NoGradGuard no_grad;
    auto plus = interval_of(*model).forward_interval(in.z + h * in.v, in.r, in.t + h, in.y);
    auto minus = interval_of(*model).forward_interval(in.z - h * in.v, in.r, in.t - h, in.y);
    auto fd = (plus - minus) / (2 * h);
    EXPECT_GT(fd.abs().max().item<double>(), 1e-3) << pair;  // a non-trivial derivative
    EXPECT_LT((jvp - fd).abs().max().item<double>(), 1e-5 * (1 + fd.abs().max().item<double>()))
        << pair;
  }
}

TEST(MeanFlow, JvpMatchesDoubleBackward) {
  auto model = random_backbone("t,t-r");
  auto in = jvp_inputs(torch::kFloat64);
  auto jvp = meanflow_jvp(*model, in.z, in.v, in.r, in.t, in.y);
  // J w via reverse mode twice: g(w) = J^T w is linear in w, so d<g(w), (v, 1)>/dw = J (v, 1).
  auto z = in.z.clone().requires_grad_(true);
  auto t = in.t.clone().requires_grad_(true);
  auto u = interval_of(*model).forward_interval(z, in.r, t, in.y);
  auto w = torch::zeros_like(u).requires_grad_(true);
  auto grads = torch::autograd::grad({u}, {z, t}, {w}, true, true);
  auto inner = (grads[0] * in.v).sum() + grads[1].sum();
  auto double_backward = torch::autograd::grad({inner}, {w})[0];
  EXPECT_LT((jvp - double_backward).abs().max().item<double>(), 1e-9);
}

namespace {

// The exact average velocity for data that is one point x*: trajectories are straight lines
// with constant velocity (z - x*) / t, so u(z, r, t) = (z - x*) / t for every r.
class OnePointAverageVelocity : public Backbone, public IntervalBackbone {
 public:
  explicit OnePointAverageVelocity(torch::Tensor target) : target_(std::move(target)) {}
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) override {
    return forward_interval(x, t, t, y);
  }
  IntervalBackbone* interval() override { return this; }
  torch::Tensor forward_interval(const torch::Tensor& z, const torch::Tensor&, const torch::Tensor& t,
                                 const torch::Tensor&, const torch::Tensor& = {}) override {
    return (z - target_) / t.view({-1, 1, 1, 1});
  }
  Jet forward_interval_jet(const Jet& z, const torch::Tensor& r, const Jet& t, const torch::Tensor& y,
                           const torch::Tensor& = {}) override {
    return Jet(forward_interval(z.value, r, t.value, y));
  }
  std::string type_name() const override { return "oracle"; }
  int64_t num_classes() const override { return 0; }

 private:
  torch::Tensor target_;
};

}  // namespace

TEST(MeanFlow, AtTheExactSolutionTheTargetEqualsThePrediction) {
  auto target = class_images().slice(0, 2, 3).to(torch::kFloat64);
  OnePointAverageVelocity oracle(target);
  torch::manual_seed(2);
  auto eps = torch::randn({3, 3, 8, 8}, torch::kFloat64);
  auto t = torch::tensor({0.9, 0.5, 0.3}, torch::kFloat64);
  auto r = torch::tensor({0.1, 0.0, 0.29}, torch::kFloat64);
  auto tb = t.view({-1, 1, 1, 1});
  auto z = (1 - tb) * target + tb * eps;
  auto result = meanflow_target(oracle, z, eps - target, r, t, torch::zeros({3}, torch::kInt64));
  EXPECT_LT((result.u - result.target).abs().max().item<double>(), 1e-10);
  // One step of the sampler lands on the point.
  MeanFlowMethod method(MeanFlowConfig{});
  SamplingConfig s;
  s.sampler = "meanflow";
  s.steps = 1;
  s.cfg_scale = 1.0;
  auto out = method.sample(oracle, eps, torch::zeros({3}, torch::kInt64), s);
  EXPECT_EQ(out.nfe, 1);
  EXPECT_LT((out.x - target).abs().max().item<double>(), 1e-10);
}

TEST(MeanFlow, GradientsReachEveryParameterThroughUAndNotTheTarget) {
  TempDir dir;
  auto c = tiny_meanflow_config(dir.path());
  torch::manual_seed(3);
  auto model = make_backbone(c);
  auto in = jvp_inputs(torch::kFloat64);
  auto f = [](const torch::Tensor& x) { return x.to(torch::kFloat32); };
  auto result = meanflow_target(*model, f(in.z), f(in.v), f(in.r), f(in.t), in.y);
  EXPECT_TRUE(result.u.requires_grad());
  EXPECT_FALSE(result.target.requires_grad());
  (result.u - result.target).pow(2).sum().backward();
  for (const auto& p : model->named_parameters()) {
    if (p.key().find("class_embed") != std::string::npos) continue;  // only two rows are used
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
  }
  // The zero-initialised output layer receives gradient (everything upstream gets it next step).
  EXPECT_GT(model->named_parameters()["out_conv.weight"].grad().abs().sum().item<double>(), 0.0);
}

TEST(MeanFlow, DualLayersMatchLibTorchsForwardModeFormulas) {
  torch::manual_seed(4);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 5, 3).stride(2).padding(1));
  torch::nn::Linear linear(4, 6);
  conv->to(torch::kFloat64);
  linear->to(torch::kFloat64);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto image = torch::randn({2, 3, 8, 8}, opts), image_tangent = torch::randn({2, 3, 8, 8}, opts);
  auto tokens = torch::randn({2, 7, 4}, opts), tokens_tangent = torch::randn({2, 7, 4}, opts);
  struct DualLevel {  // exited even when a check throws
    uint64_t id = torch::autograd::forward_ad::enter_dual_level();
    ~DualLevel() { torch::autograd::forward_ad::exit_dual_level(id); }
  };
  std::optional<DualLevel> dual_level;
  dual_level.emplace();
  auto level = static_cast<int64_t>(dual_level->id);
  auto expect_same_dual = [&](const torch::Tensor& ours, const torch::Tensor& reference) {
    auto [primal, tangent] = at::_unpack_dual(ours, level);
    auto [reference_primal, reference_tangent] = at::_unpack_dual(reference, level);
    EXPECT_TRUE(torch::allclose(primal, reference_primal, 1e-12, 1e-12));
    ASSERT_TRUE(tangent.defined());
    EXPECT_TRUE(torch::allclose(tangent, reference_tangent, 1e-12, 1e-12));
    EXPECT_GT(tangent.abs().max().item<double>(), 1e-2);
  };
  auto dual_image = at::_make_dual(image, image_tangent, level);
  auto dual_tokens = at::_make_dual(tokens, tokens_tangent, level);
  expect_same_dual(conv_forward(conv, dual_image), conv(dual_image));  // LibTorch's own rule
  expect_same_dual(linear_forward(linear, dual_tokens), linear(dual_tokens));
  dual_level.reset();
  // Without a tangent: the layer's own forward.
  EXPECT_TRUE(torch::equal(conv_forward(conv, image), conv(image)));
}

TEST(MeanFlow, EveryJvpPassGivesTheSameTargetAndGradients) {
  TempDir dir;
  auto dit_config = tiny_meanflow_config(dir.path());
  dit_config.model.type = "dit";
  dit_config.model.variant = "DiT-T/2";
  // Eval mode: no dropout, so every pass sees one network.
  for (auto model : {random_backbone("t,t-r"), random_backbone("r,t"), random_model(dit_config, torch::kFloat64)}) {
    auto in = mixed_jvp_rows(torch::kFloat64);
    auto target = expect_jvp_passes_agree(*model, in, model->type_name()).target;
    // Flow-matching rows have u_tgt = v; interval rows do not.
    EXPECT_TRUE(torch::equal(target.slice(0, 1, 3), in.v.slice(0, 1, 3)));
    EXPECT_GT((target[0] - in.v[0]).abs().max().item<double>(), 1e-3);
  }
}

TEST(MeanFlow, TrainedGuidanceIsOnWheneverWOrKappaLeavesTheIdentity) {
  auto model = random_backbone("t,t-r");
  auto in = jvp_inputs(torch::kFloat64);
  auto y = torch::tensor({1, 4});  // a class and the null label
  auto u_cond = interval_of(*model).forward_interval(in.z, in.t, in.t, y).detach();
  auto u_null = interval_of(*model).forward_interval(in.z, in.t, in.t, torch::full_like(y, 4)).detach();
  auto guided = [&](double w, double kappa) {
    return meanflow_guided_velocity(*model, in.z, in.t, y, in.v, w, kappa);
  };
  EXPECT_TRUE(torch::equal(guided(1.0, 0.0), in.v));
  for (auto [w, kappa] : {std::pair{1.0, 0.5}, std::pair{2.0, 0.0}, std::pair{1.5, 0.25}}) {
    auto out = guided(w, kappa);
    auto expected = w * in.v[0] + kappa * u_cond[0] + (1 - w - kappa) * u_null[0];
    EXPECT_TRUE(torch::allclose(out[0], expected, 1e-10, 1e-12)) << "w " << w << " kappa " << kappa;
    EXPECT_GT((out[0] - in.v[0]).abs().max().item<double>(), 1e-3) << "w " << w << " kappa " << kappa;
    EXPECT_TRUE(torch::equal(out[1], in.v[1]));  // the null row keeps v
  }
  // The guidance interval: row 0 (t = 0.7) keeps v outside it and is guided inside it.
  EXPECT_TRUE(torch::equal(meanflow_guided_velocity(*model, in.z, in.t, y, in.v, 2.0, 0.0, {0.0, 0.5}), in.v));
  EXPECT_TRUE(torch::allclose(meanflow_guided_velocity(*model, in.z, in.t, y, in.v, 2.0, 0.0, {0.6, 0.8}),
                              guided(2.0, 0.0), 1e-12, 1e-12));
  // An unconditional model has no classes to guide towards.
  TempDir dir;
  auto config = tiny_meanflow_config(dir.path());
  config.model.num_classes = 0;
  auto unconditional = random_model(config, torch::kFloat64);
  EXPECT_TRUE(torch::equal(meanflow_guided_velocity(*unconditional, in.z, in.t, torch::zeros_like(y),
                                                    in.v, 1.0, 0.5), in.v));
}

// training.init_from of a flow model (CFM) checkpoint: every shared tensor, and the embedder of
// t - r at zero output, so u(z, r, t) = v(z, t) for every r at the first step.
TEST(MeanFlow, StartsFromAFlowModelWithUEqualToItsVelocity) {
  TempDir dir;
  auto in = jvp_inputs();
  for (const std::string type : {"tiny_unet", "dit"}) {
    auto cfm = tiny_config(dir / type);
    cfm.model.type = type;
    cfm.model.variant = "DiT-T/2";
    auto flow = random_model(cfm);
    torch::optim::AdamW optimizer(flow->parameters());
    std::vector<std::string> no_names;
    save_checkpoint(dir / (type + ".pt"), {cfm, 10, no_names, *flow, {flow.get()}, optimizer});
    auto meanflow = for_method(cfm, "meanflow", false);
    auto two_time = random_model(meanflow);  // the second embedder random, as a fresh model's
    load_initial_weights(*two_time, meanflow, dir / (type + ".pt"));
    torch::NoGradGuard no_grad;
    auto v = flow->forward(in.z, in.t, in.y);
    EXPECT_GT(v.abs().max().item<double>(), 1e-2) << type;
    for (double r : {0.0, 0.3, 0.55})
      EXPECT_TRUE(torch::allclose(interval_of(*two_time).forward_interval(in.z, torch::full({2}, r), in.t, in.y), v, 1e-5, 1e-6))
          << type << " r " << r;
    // The zero output layer is what makes it: the same weights with the embedder left random differ.
    auto loaded_only = random_model(meanflow);
    load_named_weights(*loaded_only, named_weights(*flow), "the flow model", {interval_of(*loaded_only).second_time_module()});
    EXPECT_GT((interval_of(*loaded_only).forward_interval(in.z, in.r, in.t, in.y) - v).abs().max().item<double>(), 1e-3) << type;
  }
  // The (r, t) pair embeds r with t's embedder: no zero makes it v, so it is refused.
  auto cfm = tiny_config(dir / "rt");
  auto flow = random_model(cfm);
  torch::optim::AdamW optimizer(flow->parameters());
  std::vector<std::string> no_names;
  save_checkpoint(dir / "rt.pt", {cfm, 10, no_names, *flow, {flow.get()}, optimizer});
  auto meanflow = for_method(cfm, "meanflow", false);
  meanflow.model.time_pair = "r,t";
  auto message = error_of([&] { load_initial_weights(*random_model(meanflow), meanflow, dir / "rt.pt"); });
  EXPECT_NE(message.find("only with model.time_pair t,t-r"), std::string::npos) << message;
}

TEST(MeanFlow, OneStepSamplesLandNearTheirClassImage) {
  TempDir dir;
  auto data = tiny_dataset(64);
  auto config = tiny_meanflow_config(dir.path());
  config.training.steps = 400;
  config.training.batch_size = 16;
  auto method = make_method(config);
  Trainer trainer(config, data, *method);
  trainer.run();

  torch::manual_seed(11);
  auto labels = torch::arange(4, torch::kInt64).repeat_interleave(4);
  auto out = method->sample(*trainer.ema_model(), torch::randn({16, 3, 8, 8}), labels, config.sampling);
  EXPECT_EQ(out.nfe, 1);
  auto dist = (out.x.unsqueeze(1) - class_images().unsqueeze(0)).pow(2).mean({2, 3, 4});
  EXPECT_TRUE(torch::equal(dist.argmin(1), labels)) << dist.argmin(1);
  // One network evaluation after 400 small steps: a looser bound than the multi-step samplers'
  // 0.1, still under half the smallest distance between two class images (0.96); an untrained
  // model (u = 0, so x = eps) is at about 1.7.
  EXPECT_LT(dist.gather(1, labels.unsqueeze(1)).max().item<double>(), 0.4) << dist;
}
