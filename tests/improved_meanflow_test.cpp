// Improved MeanFlow (meanflow.objective v_loss) and guidance as a network input
// (meanflow.guidance_conditioning), against closed forms on Gaussian data and a trained toy.
#include <gtest/gtest.h>

#include <cmath>

#include "flowlab/error.h"
#include "flowlab/methods/meanflow.h"
#include "flowlab/methods/registry.h"
#include "flowlab/models/embeddings.h"
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

constexpr double kMean = 0.5, kSigma = 0.4;

// s(t)^2 = (1 - t)^2 sigma^2 + t^2: the spread of z_t = (1 - t) x + t eps for x ~ N(mu, sigma^2).
torch::Tensor spread(const torch::Tensor& t) { return ((1 - t).pow(2) * kSigma * kSigma + t.pow(2)).sqrt(); }

// The exact fields of data N(mu, sigma^2) in every coordinate. The flow is affine,
// z_r = m(r) + s(r) / s(t) (z_t - m(t)) with m(t) = (1 - t) mu, so
//   u(z, r, t) = -mu + (1 - s(r) / s(t)) / (t - r) (z - m(t)),
//   v(z, t) = u(z, t, t) = -mu + (t - (1 - t) sigma^2) / s(t)^2 (z - m(t)).
// alpha and beta scale the two terms (both 1: exact), so the loss has a gradient; velocity_offset
// is added to u(z, t, t) alone, the network's instantaneous velocity.
class GaussianAverageVelocity : public Backbone, public IntervalBackbone {
 public:
  GaussianAverageVelocity(double alpha, double beta) {
    alpha_ = register_parameter("alpha", torch::tensor(alpha, torch::kFloat64));
    beta_ = register_parameter("beta", torch::tensor(beta, torch::kFloat64));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) override {
    return forward_interval(x, t, t, y);
  }
  IntervalBackbone* interval() override { return this; }
  torch::Tensor forward_interval(const torch::Tensor& z, const torch::Tensor& r, const torch::Tensor& t,
                                 const torch::Tensor&, const torch::Tensor& = {}) override {
    auto same = r == t;
    auto gap = torch::where(same, torch::ones_like(t), t - r);
    auto s = spread(t);
    auto slope = torch::where(same, (t - (1 - t) * kSigma * kSigma) / s.pow(2), (1 - spread(r) / s) / gap);
    auto shape = std::vector<int64_t>{-1, 1, 1, 1};
    auto u = -kMean * alpha_ + beta_ * slope.view(shape) * (z - (1 - t).view(shape) * kMean);
    return u + velocity_offset * same.view(shape).to(u.scalar_type());
  }
  Jet forward_interval_jet(const Jet& z, const torch::Tensor& r, const Jet& t, const torch::Tensor& y,
                           const torch::Tensor& = {}) override {
    return Jet(forward_interval(z.value, r, t.value, y));
  }
  std::string type_name() const override { return "gaussian"; }
  int64_t num_classes() const override { return 0; }

  double velocity_offset = 0.0;

 private:
  torch::Tensor alpha_, beta_;
};

struct GaussianBatch {
  torch::Tensor x, eps, z, r, t;
};

// n rows of 1x2x2 data, all at r = 0.2, t = 0.7.
GaussianBatch gaussian_batch(int64_t n) {
  torch::manual_seed(5);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  GaussianBatch b;
  b.x = kMean + kSigma * torch::randn({n, 1, 2, 2}, opts);
  b.eps = torch::randn({n, 1, 2, 2}, opts);
  b.r = torch::full({n}, 0.2, opts);
  b.t = torch::full({n}, 0.7, opts);
  b.z = (1 - 0.7) * b.x + 0.7 * b.eps;
  return b;
}

// The v-loss |u - stopgrad(v - (t - r) du/dt)|^2 per row, du/dt along the model's own velocity.
torch::Tensor v_loss_rows(GaussianAverageVelocity& model, const GaussianBatch& b) {
  auto y = torch::zeros({b.x.size(0)}, torch::kInt64);
  auto tangent = meanflow_velocity(model, b.z, b.t, y);
  auto [u, target] = meanflow_target(model, b.z, b.eps - b.x, b.r, b.t, y, "separate", tangent);
  return (u - target).pow(2).sum({1, 2, 3});
}

// The gradient of the mean v-loss in (alpha, beta) over each of `chunks` parts of the batch.
torch::Tensor chunk_gradients(GaussianAverageVelocity& model, const GaussianBatch& b, int64_t chunks) {
  std::vector<torch::Tensor> grads;
  const int64_t rows = b.x.size(0) / chunks;
  for (int64_t k = 0; k < chunks; ++k) {
    auto part = [&](const torch::Tensor& a) { return a.slice(0, k * rows, (k + 1) * rows); };
    GaussianBatch piece{part(b.x), part(b.eps), part(b.z), part(b.r), part(b.t)};
    model.zero_grad();
    v_loss_rows(model, piece).mean().backward();
    auto params = model.parameters();
    grads.push_back(torch::stack({params[0].grad().clone(), params[1].grad().clone()}));
  }
  return torch::stack(grads);  // (chunks, 2)
}

}  // namespace

TEST(ImprovedMeanFlow, AtTheTrueFieldsTheVLossIsTheIrreducibleVarianceAndItsGradientVanishes) {
  auto batch = gaussian_batch(200000);
  GaussianAverageVelocity exact(1.0, 1.0);
  // V = u + (t - r) du/dt is the true v(z, t) here, so what is left is Var(eps - x | z_t), per
  // coordinate 1 + sigma^2 - Cov(eps - x, z_t)^2 / Var(z_t), with Cov = t - (1 - t) sigma^2.
  const double t = 0.7, s2 = (1 - t) * (1 - t) * kSigma * kSigma + t * t, cov = t - (1 - t) * kSigma * kSigma;
  const double irreducible = 4 * (1 + kSigma * kSigma - cov * cov / s2);
  auto rows = v_loss_rows(exact, batch).detach();
  const double standard_error = rows.std().item<double>() / std::sqrt(static_cast<double>(rows.size(0)));
  EXPECT_NEAR(rows.mean().item<double>(), irreducible, 4 * standard_error);
  // The gradient in (alpha, beta) is zero in expectation: within 4 standard errors over 40 parts.
  auto grads = chunk_gradients(exact, batch, 40);
  auto mean = grads.mean(0), error = grads.std(0) / std::sqrt(40.0);
  for (int i = 0; i < 2; ++i) EXPECT_LT(std::abs(mean[i].item<double>()), 4 * error[i].item<double>()) << i;
  // Away from the truth the same measure sees it: beta = 1.2 gives a gradient far beyond the noise.
  GaussianAverageVelocity off(1.0, 1.2);
  auto off_grads = chunk_gradients(off, batch, 40);
  EXPECT_GT(std::abs(off_grads.mean(0)[1].item<double>()), 20 * (off_grads.std(0)[1] / std::sqrt(40.0)).item<double>());
}

TEST(ImprovedMeanFlow, TheVLossTangentIsTheNetworksVelocityAndTheULossTangentIsNot) {
  // Every row has r < t, so the network's velocity u(z, t, t) enters the loss only through the
  // v-loss's tangent: moving it moves the v-loss and leaves the u-loss as it was.
  auto x = kMean + kSigma * torch::randn({64, 1, 2, 2}, torch::kFloat64);
  auto y = torch::zeros({64}, torch::kInt64);
  for (const std::string objective : {"u_loss", "v_loss"}) {
    MeanFlowConfig config;
    config.objective = objective;
    config.ratio_r_neq_t = 1.0;
    MeanFlowMethod method(config);
    auto loss_with_offset = [&](double offset) {
      GaussianAverageVelocity model(1.0, 1.0);
      model.velocity_offset = offset;
      StepRandom rng(3, 0, {0, 64, 64});
      return method.loss(model, x, y, rng).loss.item<double>();
    };
    const double base = loss_with_offset(0.0), moved = loss_with_offset(0.5);
    if (objective == "v_loss")
      EXPECT_GT(std::abs(moved - base), 1e-3 * base) << objective;
    else
      EXPECT_EQ(moved, base) << objective;
  }
}

TEST(ImprovedMeanFlow, BothJvpPassesGiveTheSameVLossTargetAndGradientsWithGuidanceInputs) {
  // The v-loss's tangent (the network's own velocity) and guidance inputs through both JVP passes,
  // TinyUNet and DiT, float64: the same u, target and parameter gradients.
  TempDir dir;
  auto unet = tiny_meanflow_config(dir.path());
  unet.meanflow.guidance_conditioning = true;
  auto dit = unet;
  dit.model.type = "dit";
  dit.model.variant = "DiT-T/2";
  for (const auto& config : {unet, dit}) {
    auto model = random_model(config, torch::kFloat64);  // the guidance embedder's weights random too
    ASSERT_TRUE(interval_of(*model).takes_guidance()) << config.model.type;
    auto in = mixed_jvp_rows(torch::kFloat64);
    auto guidance = torch::tensor({{2.0, 0.1, 0.9}, {1.0, 0.0, 1.0}, {3.0, 0.0, 1.0}, {1.5, 0.3, 0.6}}, torch::kFloat64);
    auto tangent = meanflow_velocity(*model, in.z, in.t, in.y, guidance);
    ASSERT_GT((tangent - in.v).abs().max().item<double>(), 1e-2);
    auto v_loss_target = expect_jvp_passes_agree(*model, in, config.model.type, tangent, guidance).target;
    // The tangent matters on the interval rows: the u-loss's target (tangent v) differs there.
    auto u_loss_target = meanflow_target(*model, in.z, in.v, in.r, in.t, in.y, "separate", {}, guidance).target;
    EXPECT_GT((u_loss_target[0] - v_loss_target[0]).abs().max().item<double>(), 1e-3) << config.model.type;
  }
}

TEST(GuidanceInputs, TheGuidedVelocityIsTheConditionalOneAtOmegaOneAndOnNullRows) {
  TempDir dir;
  auto config = tiny_meanflow_config(dir.path());
  config.meanflow.guidance_conditioning = true;
  auto model = random_model(config);  // every weight random: the guidance embedder too
  ASSERT_TRUE(interval_of(*model).takes_guidance());
  auto in = jvp_inputs();
  auto rows = [](double omega, double t_min, double t_max) {
    return torch::tensor({omega, t_min, t_max}, torch::kFloat32).repeat({2, 1});
  };
  auto guided = [&](const torch::Tensor& guidance, const torch::Tensor& y) {
    return guided_fields_from_inputs(*model, in.z, in.t, y, in.v, guidance);
  };
  // omega = 1: v_g = v + 0 (v_c - v_u), the conditional velocity itself.
  EXPECT_TRUE(torch::allclose(guided(rows(1.0, 0.0, 1.0), in.y).velocity, in.v, 0, 1e-6));
  // omega = 2 inside the interval: v + (1/2)(v_c - v_u), which differs.
  auto two = guided(rows(2.0, 0.0, 1.0), in.y);
  EXPECT_GT((two.velocity - in.v).abs().max().item<double>(), 1e-3);
  // The interval [0.8, 1] leaves both rows (t = 0.7, 0.55) unguided; so does the null label.
  EXPECT_TRUE(torch::allclose(guided(rows(2.0, 0.8, 1.0), in.y).velocity, in.v, 0, 1e-6));
  EXPECT_TRUE(torch::equal(guided(rows(3.0, 0.0, 1.0), torch::full_like(in.y, 4)).velocity, in.v));
  // The tangent is the network's velocity told (omega, 0, 1), and the scale changes it.
  torch::NoGradGuard no_grad;
  auto told_two = interval_of(*model).forward_interval(in.z, in.t, in.t, in.y, rows(2.0, 0.0, 1.0));
  EXPECT_TRUE(torch::allclose(two.model_velocity, told_two, 1e-5, 1e-6));
  auto told_one = interval_of(*model).forward_interval(in.z, in.t, in.t, in.y, rows(1.0, 0.0, 1.0));
  EXPECT_GT((told_two - told_one).abs().max().item<double>(), 1e-3);
}

TEST(GuidanceInputs, AreDrawnInTheirRangesAndWholeOnTheFlowMatchingRows) {
  StepRandom rng(7, 0, {0, 4000, 4000});
  auto t = torch::rand({4000});
  auto r = torch::where(torch::arange(4000) % 2 == 0, t, 0.5 * t);
  auto g = draw_guidance_inputs(rng, r, t, 1.0, 4.0);
  auto omega = g.select(1, 0), t_min = g.select(1, 1), t_max = g.select(1, 2);
  EXPECT_GE(omega.min().item<double>(), 1.0);
  EXPECT_LE(omega.max().item<double>(), 4.0);
  // Log-uniform: half the draws below the geometric middle, sqrt(1 * 4) = 2.
  EXPECT_NEAR((omega < 2.0).to(torch::kFloat64).mean().item<double>(), 0.5, 0.03);
  auto same = r == t;
  EXPECT_TRUE(torch::equal(t_min.masked_select(same), torch::zeros({2000})));
  EXPECT_TRUE(torch::equal(t_max.masked_select(same), torch::ones({2000})));
  EXPECT_LE(t_min.masked_select(~same).max().item<double>(), 0.5);
  EXPECT_GE(t_max.masked_select(~same).min().item<double>(), 0.5);
}

TEST(GuidanceInputs, OneTrainedModelSamplesTowardItsClassMoreAsOmegaGrows) {
  TempDir dir;
  auto data = tiny_dataset(64);
  auto config = tiny_meanflow_config(dir.path());
  config.meanflow.objective = "v_loss";
  config.meanflow.guidance_conditioning = true;
  config.meanflow.omega_max = 4.0;
  config.meanflow.jvp_pass = "fused";  // the faster pass on a CPU
  config.training.steps = 400;
  config.training.batch_size = 16;
  auto method = make_method(config);
  Trainer trainer(config, data, *method);
  trainer.run();
  // One step from the same noise at each scale. The position of a sample along its class image's
  // direction from the mean of the four, (x - m) . (x_c - m) / |x_c - m|^2 (1: the class image).
  auto images = class_images();
  auto mean_image = images.mean(0, true);
  auto labels = class_check_labels();
  auto direction = images.index_select(0, labels) - mean_image;
  auto samples_at = [&](double omega) {
    auto sampling = config.sampling;
    sampling.cfg_scale = omega;
    torch::manual_seed(123);
    auto out = method->sample(*trainer.ema_model(), torch::randn({16, 3, 8, 8}), labels, sampling);
    EXPECT_EQ(out.nfe, 1);
    return out.x;
  };
  std::vector<double> along;
  torch::Tensor previous;
  for (double omega : {1.0, 1.5, 2.0, 3.0}) {
    auto x = samples_at(omega);
    along.push_back(((x - mean_image) * direction).sum({1, 2, 3}).div(direction.pow(2).sum({1, 2, 3})).mean().item<double>());
    if (previous.defined()) EXPECT_GT((x - previous).abs().max().item<double>(), 1e-3) << "omega " << omega;
    previous = x;
  }
  for (size_t i = 1; i < along.size(); ++i) EXPECT_GT(along[i], along[i - 1]) << "omega step " << i;
  // At omega 1 the samples already stand nearer their own class image than any other.
  auto at_one = samples_at(1.0);
  auto distances = (at_one.unsqueeze(1) - images.unsqueeze(0)).pow(2).mean({2, 3, 4});
  EXPECT_TRUE(torch::equal(distances.argmin(1), labels)) << distances;
}

TEST(GuidanceInputs, AModelWithoutThemStartsOneWithThemAtTheSameOutput) {
  TempDir dir;
  auto plain = tiny_meanflow_config(dir / "plain");
  auto source = random_model(plain);
  torch::optim::AdamW optimizer(source->parameters());
  std::vector<std::string> no_names;
  save_checkpoint(dir / "plain.pt", {plain, 10, no_names, *source, {source.get()}, optimizer});
  auto told = plain;
  told.meanflow.guidance_conditioning = true;
  auto model = random_model(told);
  load_initial_weights(*model, told, dir / "plain.pt");
  auto in = jvp_inputs();
  torch::NoGradGuard no_grad;
  auto expected = interval_of(*source).forward_interval(in.z, in.r, in.t, in.y);
  for (double omega : {1.0, 3.0})
    EXPECT_TRUE(torch::allclose(
        interval_of(*model).forward_interval(in.z, in.r, in.t, in.y,
                                             torch::tensor({omega, 0.2, 0.9}).repeat({2, 1})),
        expected, 1e-5, 1e-6))
        << omega;
}

TEST(GuidanceInputs, AreRefusedWhereTheyMeanNothing) {
  TempDir dir;
  auto config = tiny_meanflow_config(dir.path());
  config.meanflow.guidance_conditioning = true;
  config.meanflow.guidance_w = 2.0;
  EXPECT_NE(error_of([&] { validate(config); }).find("guidance_w"), std::string::npos);
  config.meanflow.guidance_w = 1.0;
  config.model.num_classes = 0;
  EXPECT_NE(error_of([&] { validate(config); }).find("num_classes"), std::string::npos);
  config.model.num_classes = 4;
  config.meanflow.omega_min = 3.0;
  config.meanflow.omega_max = 2.0;
  EXPECT_NE(error_of([&] { validate(config); }).find("omega_min"), std::string::npos);
}

TEST(GuidanceInputs, AToldModelSamplesAtOneNetworkEvaluationPerStepAtAnyScale) {
  TempDir dir;
  auto told_config = tiny_meanflow_config(dir / "told");
  told_config.meanflow.guidance_conditioning = true;
  auto plain_config = tiny_meanflow_config(dir / "plain");
  auto told = random_model(told_config), plain = random_model(plain_config);
  auto method = make_method(told_config);
  auto noise = torch::randn({4, 3, 8, 8});
  auto labels = torch::arange(4, torch::kInt64);
  auto sampling = told_config.sampling;
  sampling.steps = 2;
  for (double scale : {1.0, 3.0}) {
    sampling.cfg_scale = scale;
    auto out = method->sample(*told, noise, labels, sampling);
    EXPECT_EQ(out.nfe, 2);
    EXPECT_EQ(out.evaluations, 2) << scale;
  }
  // Without guidance inputs CFG is a double batch: two evaluations per step.
  sampling.cfg_scale = 3.0;
  auto out = method->sample(*plain, noise, labels, sampling);
  EXPECT_EQ(out.nfe, 2);
  EXPECT_EQ(out.evaluations, 4);
  // CFM's Euler with CFG only for t <= 0.45: of the 10 steps (t = 1, 0.9, ..., 0.1), the 4 from
  // t = 0.4 on are double batches and the other 6 single.
  auto cfm_config = tiny_config(dir / "cfm");
  auto cfm = random_model(cfm_config);
  auto cfm_method = make_method(cfm_config);
  auto s = cfm_config.sampling;
  s.steps = 10;
  s.cfg_scale = 2.0;
  s.cfg_t_max = 0.45;
  auto flow = cfm_method->sample(*cfm, noise, labels, s);
  EXPECT_EQ(flow.nfe, 10);
  EXPECT_EQ(flow.evaluations, 14);
}
