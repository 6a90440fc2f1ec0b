// model.checkpointing: the loss and gradients are those of the plain backward pass, with dropout
// on (the rerun must draw the same masks), for TinyUNet and DiT, under bf16 autocast, and through
// MeanFlow's fused and separate JVP passes.
#include <gtest/gtest.h>

#include "flowlab/methods/registry.h"
#include "flowlab/models/activation_checkpoint.h"
#include "flowlab/recipe.h"
#include "flowlab/step_random.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

struct LossAndGradients {
  double loss;
  std::vector<torch::Tensor> grads;
};

// One method loss and its backward pass on a fixed batch, from the same weights (the zero-
// initialised output layers made random, so every layer gets a gradient).
LossAndGradients loss_and_gradients(Config config, bool checkpointing) {
  config.model.checkpointing = checkpointing;
  torch::manual_seed(0);
  auto model = make_backbone(config);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters())
      if (p.abs().max().item<double>() == 0) p.normal_(0.0, 0.05);
  }
  model->train();
  auto method = make_method(config);
  auto batch = tiny_dataset(2).batch(torch::arange(8));
  StepRandom rng(config.training.seed, 0, {0, 8, 8});
  auto out = method->loss(*model, batch.images, batch.labels, rng);
  out.loss.backward();
  LossAndGradients result{out.loss.item<double>(), {}};
  for (const auto& p : model->parameters())
    result.grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return result;
}

// The largest gradient difference relative to the largest gradient entry.
double relative_difference(const LossAndGradients& a, const LossAndGradients& b) {
  double largest = 0, diff = 0;
  for (size_t i = 0; i < a.grads.size(); ++i) {
    largest = std::max(largest, a.grads[i].abs().max().item<double>());
    diff = std::max(diff, (a.grads[i] - b.grads[i]).abs().max().item<double>());
  }
  return diff / largest;
}

Config with_backbone(Config c, const std::string& type) {
  c.model.type = type;
  if (type == "dit") {
    c.model.hidden_size = 32;
    c.model.depth = 2;
    c.model.patch_size = 2;
  }
  return c;
}

}  // namespace

// The rerun draws the forward pass's mask, though other draws came in between: the gradient of
// sum(dropout(x)) is exactly the mask the output shows, 1 / (1 - p) where it kept x, else 0.
TEST(Checkpointing, TheBackwardRerunDrawsTheForwardPassMask) {
  torch::manual_seed(3);
  auto x = torch::ones({4000}, torch::kFloat64).requires_grad_();
  auto dropout = [](const std::vector<Jet>& in) { return jet::dropout(in[0], 0.5, true); };
  auto out = checkpointed(dropout, {Jet(x)}, {}).value;
  torch::rand({100});  // the generator moves on before the backward pass
  out.sum().backward();
  auto kept = (out != 0).to(torch::kFloat64);
  EXPECT_NEAR(kept.mean().item<double>(), 0.5, 0.05);
  EXPECT_TRUE(torch::equal(x.grad(), 2.0 * kept));
  // Without recording there is no node: the plain call.
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(checkpointed(dropout, {Jet(x)}, {}).value.grad_fn());
}

// Dropout 0.3 in TinyUNet's residual blocks (DiT has none).
TEST(Checkpointing, GradientsEqualThePlainBackwardWithDropoutOn) {
  struct Case {
    std::string name;
    Config config;
    double tolerance;
  };
  TempDir dir;
  auto cfm = tiny_config(dir.path());
  cfm.model.dropout = 0.3;
  auto meanflow = tiny_meanflow_config(dir.path());
  meanflow.model.dropout = 0.3;
  std::vector<Case> cases;
  cases.push_back({"cfm tiny_unet", cfm, 1e-5});
  cases.push_back({"cfm dit", with_backbone(cfm, "dit"), 1e-5});
  auto bf16 = cfm;
  bf16.compute.precision = "bf16";
  cases.push_back({"cfm tiny_unet bf16", bf16, 1e-2});
  for (const std::string pass : {"fused", "separate"}) {
    auto c = meanflow;
    c.meanflow.jvp_pass = pass;
    cases.push_back({"meanflow tiny_unet " + pass, c, 1e-5});
    cases.push_back({"meanflow dit " + pass, with_backbone(c, "dit"), 1e-5});
  }
  for (const auto& c : cases) {
    auto plain = loss_and_gradients(c.config, false), checkpointed = loss_and_gradients(c.config, true);
    EXPECT_NEAR(plain.loss, checkpointed.loss, 1e-6 * std::abs(plain.loss)) << c.name;
    EXPECT_LE(relative_difference(plain, checkpointed), c.tolerance) << c.name;
  }
}

