#include <gtest/gtest.h>

#include <cmath>

#include "flowlab/methods/ddpm.h"
#include "flowlab/methods/registry.h"
#include "flowlab/sampling/diffusion_samplers.h"
#include "flowlab/training/trainer.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

TEST(NoiseSchedule, CosineMatchesItsClosedFormAndDecreases) {
  auto s = NoiseSchedule::cosine(1000);
  auto ab = s.alpha_bars();
  EXPECT_TRUE((ab.slice(0, 1) < ab.slice(0, 0, -1)).all().item<bool>());
  EXPECT_GT(s.alpha_bar(1), 0.9999);
  EXPECT_LT(s.alpha_bar(1000), 1e-6);
  auto f = [](double t) { return std::pow(std::cos((t / 1000.0 + 0.008) / 1.008 * M_PI / 2), 2); };
  // Away from the clipped end, the product of (1 - beta) is f(t) / f(0).
  for (int64_t t : {1, 10, 250, 500, 900})
    EXPECT_NEAR(s.alpha_bar(t), f(t) / f(0), 1e-9) << t;
  EXPECT_LE(s.betas().max().item<double>(), 0.999);
}

TEST(NoiseSchedule, LinearMatchesHoEtAlAndRescales) {
  auto s = NoiseSchedule::linear(1000);
  EXPECT_NEAR(s.betas()[0].item<double>(), 1e-4, 1e-12);
  EXPECT_NEAR(s.betas()[999].item<double>(), 0.02, 1e-12);
  EXPECT_NEAR(s.betas()[500].item<double>(), 1e-4 + (0.02 - 1e-4) * 500 / 999, 1e-12);
  auto short_schedule = NoiseSchedule::linear(200);
  EXPECT_NEAR(short_schedule.betas()[199].item<double>(), 0.1, 1e-12);
  EXPECT_LT(short_schedule.alpha_bar(200), 1e-4);  // T = 200 still ends in noise
}

TEST(NoiseSchedule, QSampleHasTheForwardMeanAndVariance) {
  torch::manual_seed(0);
  double ab = 0.3;
  auto x0 = torch::full({200000}, 0.8);
  auto xt = NoiseSchedule::q_sample(x0, torch::full({1}, ab), torch::randn({200000}));
  EXPECT_NEAR(xt.mean().item<double>(), std::sqrt(ab) * 0.8, 5e-3);
  EXPECT_NEAR(xt.var().item<double>(), 1 - ab, 5e-3);
}

TEST(NoiseSchedule, PosteriorIsTheProductOfTheTwoGaussians) {
  // q(x_s | x0) = N(sqrt(ab_s) x0, 1 - ab_s), q(x_t | x_s) = N(sqrt(a) x_s, 1 - a), a = ab_t / ab_s.
  for (auto [ab_t, ab_s] : std::vector<std::pair<double, double>>{{0.5, 0.9}, {0.01, 0.2}, {0.7, 1.0}}) {
    double a = ab_t / ab_s;
    double precision = 1 / (1 - ab_s + 1e-300) + a / (1 - a);
    double var = 1 / precision;
    double x0 = 0.3, xt = -1.2;
    double mean = ab_s < 1 ? var * (std::sqrt(ab_s) * x0 / (1 - ab_s) + std::sqrt(a) * xt / (1 - a)) : x0;
    if (ab_s >= 1) var = 0;
    auto p = NoiseSchedule::posterior(ab_t, ab_s);
    EXPECT_NEAR(p.coef_x0 * x0 + p.coef_xt * xt, mean, 1e-9);
    EXPECT_NEAR(p.variance, var, 1e-9);
  }
}

TEST(Ddpm, RespacedStepsSpanOneToT) {
  EXPECT_EQ(respaced_steps(1000, 4), (std::vector<int64_t>{1, 334, 667, 1000}));
  EXPECT_EQ(respaced_steps(10, 10).size(), 10u);
  EXPECT_EQ(respaced_steps(200, 50).front(), 1);
  EXPECT_EQ(respaced_steps(200, 50).back(), 200);
}

// improved diffusion's space_timesteps(T, "N"): a running sum of (T - 1) / (N - 1), rounded half
// to even as Python's round does; flowlab's steps are its indices plus one.
TEST(Ddpm, RespacingRoundsAsImprovedDiffusionDoes) {
  // 10 / 4 = 2.5: 0, 2.5, 5, 7.5, 10 -> 0, 2, 5, 8, 10 (half away from zero gave 3 and 8).
  EXPECT_EQ(respaced_steps(11, 5), (std::vector<int64_t>{1, 3, 6, 9, 11}));
  auto dit = respaced_steps(1000, 250);  // DiT's 250 steps: round(k * 999 / 249)
  ASSERT_EQ(dit.size(), 250u);
  for (int64_t k : {0, 1, 25, 83, 124, 249}) EXPECT_EQ(dit[k], 1 + std::llround(k * 999.0 / 249)) << k;
}

// A learned variance: the ancestral step's noise has variance exp(f log beta + (1 - f) log
// posterior variance) for the network's fraction f (improved DDPM, Eq. 15), between the two.
TEST(Ddpm, LearnedRangeAncestralStepsHaveTheInterpolatedVariance) {
  auto schedule = NoiseSchedule::linear(1000);
  const int64_t t = 100, s = 50;  // a respaced step
  const double ab_t = schedule.alpha_bar(t), ab_s = schedule.alpha_bar(s);
  const double beta = 1 - ab_t / ab_s, posterior = NoiseSchedule::posterior(ab_t, ab_s).variance;
  for (double f : {0.0, 0.3, 1.0}) {
    DenoiseFn zero_mean = [&](const torch::Tensor& x, int64_t) {
      // x0 = 0 and x = 0: the step's mean is 0, so the sample is the noise alone.
      Denoised d{torch::zeros_like(x), torch::zeros_like(x), torch::full_like(x, f)};
      return d;
    };
    torch::manual_seed(0);
    auto x = ddpm_ancestral_sample(zero_mean, schedule, torch::zeros({200000}), {t, s});
    double expected = std::exp(f * std::log(beta) + (1 - f) * std::log(posterior));
    EXPECT_NEAR(x.var().item<double>() / expected, 1.0, 0.01) << f;
  }
  EXPECT_GT(beta / posterior, 1.01);  // the two ends differ, so the check can fail
}

namespace {

// Exact epsilon for data that is one point x*: eps = (x_t - sqrt(ab) x*) / sqrt(1 - ab).
class OnePointEpsilon : public Backbone {
 public:
  OnePointEpsilon(torch::Tensor target, NoiseSchedule schedule)
      : target_(std::move(target)), schedule_(std::move(schedule)) {}
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor&) override {
    auto step = (t * schedule_.steps()).round().to(torch::kInt64);
    auto ab = schedule_.alpha_bar_at(step);
    return (x - ab.sqrt() * target_) / (1 - ab).sqrt();
  }
  std::string type_name() const override { return "oracle"; }
  int64_t num_classes() const override { return 0; }

 private:
  torch::Tensor target_;
  NoiseSchedule schedule_;
};

}  // namespace

TEST(Ddpm, ExactEpsilonOracleReturnsThePointWithEverySampler) {
  auto target = class_images().slice(0, 1, 2);
  for (const char* schedule : {"cosine", "linear"}) {
    DdpmConfig config;
    config.schedule = schedule;
    config.timesteps = 200;
    config.eta = 0.5;
    DdpmMethod ddpm(config);
    OnePointEpsilon oracle(target, ddpm.schedule());
    for (const char* sampler : {"ddpm", "ddim", "dpmpp_2m"}) {
      SamplingConfig s;
      s.sampler = sampler;
      s.steps = 25;
      s.cfg_scale = 1.0;
      auto out = ddpm.sample(oracle, torch::randn({3, 3, 8, 8}), torch::zeros({3}, torch::kInt64), s);
      EXPECT_EQ(out.nfe, 25);
      EXPECT_LT((out.x - target).abs().max().item<double>(), 1e-4) << schedule << " " << sampler;
    }
  }
}

TEST(Ddpm, ResamplingPathJumpsBackAtEveryJumpPoint) {
  EXPECT_EQ(resampling_path(6, 2, 2),
            (std::vector<int64_t>{6, 5, 4, 5, 6, 5, 4, 3, 2, 3, 4, 3, 2, 1, 0, 1, 2, 1, 0}));
  EXPECT_EQ(resampling_path(4, 2, 1), (std::vector<int64_t>{4, 3, 2, 1, 0}));
  EXPECT_EQ(resampling_path(4, 5, 3), (std::vector<int64_t>{4, 3, 2, 1, 0}));  // jump > levels
}

TEST(Ddpm, ResampledSamplingKeepsTheForwardMarginalsAndReturnsThePoint) {
  // With the exact one-point oracle every state the sampler visits, on the way down or back up,
  // is distributed as q(x_t | x*) = N(sqrt(ab_t) x*, (1 - ab_t) I).
  torch::manual_seed(5);
  DdpmConfig config;
  config.timesteps = 100;
  DdpmMethod ddpm(config);
  const double point = 0.5;
  OnePointEpsilon oracle(torch::full({1, 1, 1, 1}, point), ddpm.schedule());
  SamplingConfig s;
  s.sampler = "ddpm";
  s.steps = 10;
  s.cfg_scale = 1.0;
  s.resample_jump = 2;
  s.resample_repeats = 3;
  const int64_t n = 20000;
  std::vector<double> visited;
  StepHook check = [&](const torch::Tensor& x, double t) {
    visited.push_back(t);
    double ab = ddpm.schedule().alpha_bar(std::llround(t * 100));
    EXPECT_NEAR(x.mean().item<double>(), std::sqrt(ab) * point, 0.03) << "t = " << t;
    EXPECT_NEAR(x.std().item<double>(), std::sqrt(1 - ab), 0.03) << "t = " << t;
    return x;
  };
  auto out = ddpm.sample(oracle, torch::randn({n, 1, 1, 1}), torch::zeros({n}, torch::kInt64), s, check);
  // 10 levels, jump points 0, 2, 4, 6, 8, each revisited twice over 2 levels: 10 + 5 * 2 * 2.
  EXPECT_EQ(out.nfe, 30);
  EXPECT_EQ(visited.size(), 30u + 20u);
  EXPECT_LT((out.x - point).abs().max().item<double>(), 1e-4);
}

TEST(Ddpm, VPredictionConvergesOnTinyImagesAndSamplesTheRequestedClass) {
  TempDir dir;
  auto data = tiny_dataset(64);
  auto config = tiny_config(dir.path());
  config.method.name = "ddpm";
  config.sampling.sampler = "ddpm";
  config.sampling.steps = 50;
  config.training.steps = 400;
  // v-prediction: with four point-mass classes, an epsilon model needs far more than 400 steps
  // before its high-noise predictions pick the class (sampling from t <= 0.7 T works at 400 steps,
  // from t = T it does not); the exact-epsilon oracle test above covers the epsilon path.
  config.ddpm.prediction = "v";
  auto method = make_method(config);
  Trainer trainer(config, data, *method);
  trainer.run();
  torch::manual_seed(321);
  auto labels = torch::arange(4, torch::kInt64).repeat_interleave(4);
  for (const char* sampler : {"ddpm", "ddim"}) {
    config.sampling.sampler = sampler;
    auto samples = method->sample(*trainer.ema_model(), torch::randn({16, 3, 8, 8}), labels,
                                  config.sampling).x;
    auto dist = (samples.unsqueeze(1) - class_images().unsqueeze(0)).pow(2).mean({2, 3, 4});
    EXPECT_TRUE(torch::equal(dist.argmin(1), labels)) << sampler << dist.argmin(1);
    EXPECT_LT(dist.gather(1, labels.unsqueeze(1)).max().item<double>(), 0.1) << sampler;
  }
}

TEST(Ddpm, RejectsFlowSamplers) {
  DdpmMethod ddpm(DdpmConfig{});
  OnePointEpsilon oracle(torch::zeros({1, 3, 8, 8}), ddpm.schedule());
  SamplingConfig s;
  s.sampler = "euler";
  EXPECT_ANY_THROW(ddpm.sample(oracle, torch::randn({1, 3, 8, 8}), torch::zeros({1}, torch::kInt64), s));
}

TEST(Ddpm, EveryPredictionKindConvertsBackToCleanDataAndNoise) {
  torch::manual_seed(3);
  auto x0 = torch::randn({4, 3, 2, 2}, torch::kFloat64), eps = torch::randn({4, 3, 2, 2}, torch::kFloat64);
  auto ab = torch::tensor({0.9, 0.5, 0.1, 0.01}, torch::kFloat64).view({-1, 1, 1, 1});
  auto x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps;
  for (const char* kind : {"epsilon", "v", "x0"}) {
    DdpmPrediction prediction(kind);
    auto d = prediction.denoised(x_t, prediction.target(x0, eps, ab), ab);
    EXPECT_TRUE(torch::allclose(d.x0, x0, 1e-9, 1e-10)) << kind;
    EXPECT_TRUE(torch::allclose(d.eps, eps, 1e-9, 1e-10)) << kind;
  }
  // v = sqrt(ab) eps - sqrt(1 - ab) x0 (Salimans & Ho 2022).
  EXPECT_TRUE(torch::allclose(DdpmPrediction("v").target(x0, eps, ab), ab.sqrt() * eps - (1 - ab).sqrt() * x0));
  EXPECT_NE(error_of([] { DdpmPrediction("score"); }).find("epsilon v x0"), std::string::npos);
}
