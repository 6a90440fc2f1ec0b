// End-to-end CFM: exact-oracle sampling, convergence on tiny fixed images, exact resume.
#include <gtest/gtest.h>

#include "flowlab/config.h"
#include "flowlab/data/dataset.h"
#include "flowlab/io/image.h"
#include "flowlab/methods/cfm.h"
#include "flowlab/methods/registry.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/trainer.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

// Exact velocity for Gaussian data x ~ N(mu, s^2 I) on the path x_t = (1 - t) x + t eps:
//   v(x_t, t) = E[eps - x | x_t] = -mu + (t - (1 - t) s^2) / sigma_t^2 (x_t - (1 - t) mu),
//   sigma_t^2 = (1 - t)^2 s^2 + t^2.
// Its flow carries noise eps at t = 1 to mu + s eps at t = 0.
class GaussianOracle : public Backbone {
 public:
  GaussianOracle(torch::Tensor mu, double s) : mu_(std::move(mu)), s_(s) {}
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor&) override {
    auto tb = t.view({-1, 1, 1, 1});
    auto var = (1 - tb).pow(2) * s_ * s_ + tb.pow(2);
    return -mu_ + (tb - (1 - tb) * s_ * s_) / var * (x - (1 - tb) * mu_);
  }
  std::string type_name() const override { return "oracle"; }
  int64_t num_classes() const override { return 0; }

 private:
  torch::Tensor mu_;
  double s_;
};

}  // namespace

TEST(Cfm, ExactVelocityCarriesNoiseToItsKnownImage) {
  auto mu = class_images().slice(0, 0, 1);
  GaussianOracle oracle(mu, 0.5);
  CfmMethod cfm(MethodConfig{});
  struct Case {
    const char* sampler;
    double tolerance;
  };
  for (auto [sampler, tolerance] : std::vector<Case>{
           {"euler", 1e-1}, {"heun", 1e-3}, {"midpoint", 1e-3}, {"rk45", 1e-3}}) {
    SamplingConfig s;
    s.sampler = sampler;
    s.steps = 50;
    s.cfg_scale = 1.0;
    s.rtol = s.atol = 1e-5;
    auto noise = torch::randn({3, 3, 8, 8});
    auto out = cfm.sample(oracle, noise, torch::zeros({3}, torch::kInt64), s);
    auto error = (out.x - (mu + 0.5 * noise)).abs().max().item<double>();
    EXPECT_LT(error, tolerance) << sampler;
  }
}

TEST(Cfm, LossIsTheVelocityRegressionError) {
  // A network that outputs zero has loss E||eps - x||^2 / numel = 1 + mean(x^2).
  torch::manual_seed(0);
  struct Zero : Backbone {
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor&, const torch::Tensor&) override {
      return torch::zeros_like(x);
    }
    std::string type_name() const override { return "zero"; }
    int64_t num_classes() const override { return 0; }
  } zero;
  CfmMethod cfm(MethodConfig{});
  auto x = torch::full({256, 3, 8, 8}, 0.5);
  StepRandom rng;
  auto loss = cfm.loss(zero, x, torch::zeros({256}, torch::kInt64), rng).loss.item<double>();
  EXPECT_NEAR(loss, 1.25, 0.02);
}

TEST(Cfm, ConvergesOnTinyImagesAndSamplesTheRequestedClass) {
  TempDir dir;
  auto data = tiny_dataset(64);
  auto config = tiny_config(dir.path());
  config.training.steps = 400;
  auto method = make_method(config);
  Trainer trainer(config, data, *method);
  auto result = trainer.run();

  auto labels = class_check_labels();
  // Distance of every sample to every class image; nearest must be its own class.
  auto dist = class_image_distances(*method, *trainer.ema_model(), config.sampling);
  auto nearest = dist.argmin(1);
  EXPECT_TRUE(torch::equal(nearest, labels)) << nearest;
  // Per-pixel MSE to the own class image; the class images are >= 0.96 apart.
  auto own = dist.gather(1, labels.unsqueeze(1));
  EXPECT_LT(own.max().item<double>(), 0.1) << own;
}

TEST(Cfm, UntrainedModelFailsTheSameCheck) {
  // The convergence check above can fail: zero steps leaves samples far from the class images.
  TempDir dir;
  auto data = tiny_dataset(8);
  auto config = tiny_config(dir.path());
  config.training.steps = 1;
  auto method = make_method(config);
  Trainer trainer(config, data, *method);
  trainer.run();
  auto labels = torch::arange(4, torch::kInt64);
  auto samples = method->sample(*trainer.ema_model(), torch::randn({4, 3, 8, 8}), labels,
                                config.sampling).x;
  auto own = (samples - class_images()).pow(2).mean({1, 2, 3});
  EXPECT_GT(own.min().item<double>(), 0.1);
}

TEST(Cfm, ResumeGivesTheSameWeightsAsOneRun) {
  TempDir a, b;
  auto data = tiny_dataset(16);
  auto config = tiny_config(a.path());
  config.training.steps = 16;
  config.model.dropout = 0.1;     // exercise the RNG through dropout ...
  config.data.random_flip = "true";  // ... and flips
  auto method = make_method(config);

  Trainer straight(config, data, *method);
  straight.run();

  config.training.output_dir = b.path();
  Trainer first_half(config, data, *method);
  auto half = first_half.run("", 8);
  ASSERT_EQ(half.step, 8);
  ASSERT_TRUE(half.stopped);
  Trainer second_half(config, data, *method);
  auto rest = second_half.run(half.checkpoint);
  ASSERT_EQ(rest.step, 16);

  auto pa = straight.model()->parameters(), pb = second_half.model()->parameters();
  auto ea = straight.ema_model()->parameters(), eb = second_half.ema_model()->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
    EXPECT_TRUE(torch::equal(ea[i], eb[i])) << "EMA parameter " << i;
  }
}


// sampling.cfg_t_min/cfg_t_max: CFG on the steps whose t is inside the interval only. Euler at 4
// steps evaluates t = 1, 0.75, 0.5, 0.25, so [0, 0.1] guides none of them and [0, 1] all.
TEST(Cfm, GuidanceIntervalGuidesTheStepsInsideIt) {
  TempDir dir;
  auto config = tiny_config(dir.path());
  auto model = random_model(config);
  CfmMethod method(config.method);
  auto noise = torch::randn({4, 3, 8, 8}, torch::Generator(at::detail::createCPUGenerator(5)));
  auto labels = torch::tensor({0, 1, 2, 3});
  auto sample = [&](double scale, double t_min, double t_max) {
    auto s = config.sampling;
    s.steps = 4;
    s.cfg_scale = scale;
    s.cfg_t_min = t_min;
    s.cfg_t_max = t_max;
    return method.sample(*model, noise, labels, s, nullptr).x;
  };
  auto unguided = sample(1.0, 0.0, 1.0), guided = sample(3.0, 0.0, 1.0);
  EXPECT_GT((guided - unguided).abs().max().item<double>(), 1e-3);
  EXPECT_TRUE(torch::equal(sample(3.0, 0.0, 0.1), unguided));
  EXPECT_TRUE(torch::equal(sample(3.0, 0.0, 1.0), guided));
  auto late = sample(3.0, 0.0, 0.6);  // the last two steps only
  EXPECT_GT((late - unguided).abs().max().item<double>(), 1e-4);
  EXPECT_GT((late - guided).abs().max().item<double>(), 1e-4);
}
