// Every tangent rule of models/jet.h against LibTorch's forward-mode AD and a central finite
// difference (float64), and the rule that the tangent carries no autograd graph while the value
// keeps its own.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <functional>

#include "flowlab/models/jet.h"
#include "test_helpers.h"

using namespace flowlab;

namespace {

using Op = std::function<Jet(const Jet&)>;

// The op's tangent at x along dx three ways; the scale of the derivative for the tolerances.
struct Derivatives {
  torch::Tensor jet, forward_ad, finite_difference;
};

Derivatives derivatives(const Op& op, const torch::Tensor& x, const torch::Tensor& dx) {
  Derivatives d;
  d.jet = op(Jet(x, dx)).tangent;
  {
    auto level = torch::autograd::forward_ad::enter_dual_level();
    d.forward_ad = std::get<1>(at::_unpack_dual(op(Jet(at::_make_dual(x, dx, 0))).value, 0)).clone();
    torch::autograd::forward_ad::exit_dual_level(level);
  }
  torch::NoGradGuard no_grad;
  double h = 1e-6;
  d.finite_difference = (op(Jet(x + h * dx)).value - op(Jet(x - h * dx)).value) / (2 * h);
  return d;
}

void expect_rule(const std::string& name, const Op& op, const torch::Tensor& x) {
  auto dx = torch::randn_like(x);
  auto d = derivatives(op, x, dx);
  double scale = 1 + d.forward_ad.abs().max().item<double>();
  EXPECT_GT(d.forward_ad.abs().max().item<double>(), 1e-3) << name;  // a derivative to compare
  EXPECT_LT((d.jet - d.forward_ad).abs().max().item<double>(), 1e-10 * scale) << name << " vs forward AD";
  EXPECT_LT((d.jet - d.finite_difference).abs().max().item<double>(), 1e-6 * scale) << name << " vs finite difference";
}

}  // namespace

TEST(Jet, EveryRuleMatchesForwardModeAdAndFiniteDifferences) {
  torch::manual_seed(0);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(4, 6, 3).padding(1).stride(2));
  torch::nn::Linear linear(5, 7);
  torch::nn::GroupNorm norm(torch::nn::GroupNormOptions(2, 4));
  for (torch::nn::Module* m : std::initializer_list<torch::nn::Module*>{conv.get(), linear.get(), norm.get()}) m->to(torch::kFloat64);
  {
    torch::NoGradGuard no_grad;
    norm->weight.uniform_(0.5, 1.5);
    norm->bias.uniform_(-0.5, 0.5);
  }
  auto image = torch::randn({2, 4, 6, 6}, opts), rows = torch::randn({3, 5}, opts);
  expect_rule("conv", [&](const Jet& x) { return jet::conv(conv, x); }, image);
  expect_rule("linear", [&](const Jet& x) { return jet::linear(linear, x); }, rows);
  expect_rule("silu", [](const Jet& x) { return jet::silu(x); }, rows);
  expect_rule("gelu_tanh", [](const Jet& x) { return jet::gelu_tanh(x); }, rows * 2);
  expect_rule("group_norm", [&](const Jet& x) { return jet::group_norm(norm, x, [&](const torch::Tensor& v) { return norm(v); }); },
              image * 3 + 1);
  expect_rule("layer_norm", [](const Jet& x) { return jet::layer_norm(x, 1e-6); }, rows * 2 + 0.5);
  expect_rule("mul", [&](const Jet& x) { return jet::mul(x, jet::silu(x)); }, rows);
  expect_rule("sinusoidal", [](const Jet& t) { return jet::sinusoidal(t, 9); },  // odd: a zero column
              torch::rand({4}, opts));
  // Attention with q, k and v all depending on x (as from one qkv projection).
  auto tokens = torch::randn({2, 3, 5, 4}, opts);
  expect_rule("attention", [](const Jet& x) {
    auto k = jet::map(x, [](const torch::Tensor& a) { return a.flip(-2); });
    return jet::attention(x, jet::mul(k, k), jet::silu(x));
  }, tokens);
  expect_rule("cat and chunk", [](const Jet& x) {
    auto parts = jet::chunk(jet::cat({x, jet::silu(x)}, 1), 2, 1);
    return jet::mul(parts[0], parts[1]);
  }, rows);
}

TEST(Jet, TheValueKeepsItsGraphAndTheTangentHasNone) {
  torch::nn::Linear linear(4, 4);
  auto out = jet::silu(jet::linear(linear, Jet(torch::randn({2, 4}), torch::randn({2, 4}))));
  EXPECT_TRUE(out.value.requires_grad());
  EXPECT_FALSE(out.tangent.requires_grad());
  // Without a tangent every op is the plain op.
  auto x = torch::randn({2, 4});
  auto plain = jet::silu(jet::linear(linear, Jet(x)));
  EXPECT_FALSE(plain.has_tangent());
  EXPECT_TRUE(torch::equal(plain.value, torch::silu(linear(x))));
  // Dropout draws one mask for both.
  torch::manual_seed(3);
  auto ones = torch::ones({1000});
  auto dropped = jet::dropout(Jet(ones, 2 * ones), 0.5, true);
  EXPECT_TRUE(torch::equal(dropped.tangent, 2 * dropped.value));
  EXPECT_GT((dropped.value == 0).sum().item<int64_t>(), 400);
}
