// The SDE sampler for flow models: the score it derives from the velocity against the exact
// score of Gaussian data, and its samples from the exact velocity of a 1D Gaussian mixture against
// the mixture (mean, variance, weights), closer with more steps.
#include <gtest/gtest.h>

#include <cmath>

#include "flowlab/named_entries.h"
#include "flowlab/sampling/sde_sampler.h"

using namespace flowlab;

namespace {

// Data: a mixture of N(means[k], stds[k]^2) with `weights`; x_t = (1 - t) x_0 + t eps. Each
// component stays Gaussian along the path, N((1 - t) m, (1 - t)^2 s^2 + t^2), and Gaussian
// conditioning gives E[x_0 | x_t, k] and E[eps | x_t, k]; the velocity E[eps - x_0 | x_t] weighs
// them by the components' posteriors.
struct Mixture {
  std::vector<double> weights, means, stds;

  torch::Tensor velocity(const torch::Tensor& x, double t) const {
    auto opts = x.options();
    auto w = torch::tensor(weights, opts), m = torch::tensor(means, opts), s = torch::tensor(stds, opts);
    auto xs = x.reshape({-1, 1});
    auto var = (1 - t) * (1 - t) * s * s + t * t;
    auto d = xs - (1 - t) * m;
    auto posterior = torch::softmax(torch::log(w) - 0.5 * torch::log(var) - 0.5 * d * d / var, 1);
    auto x0 = m + (1 - t) * s * s * d / var;
    auto eps = t * d / var;
    return (posterior * (eps - x0)).sum(1).reshape(x.sizes());
  }
  torch::Tensor score(const torch::Tensor& x, double t) const {  // one component only
    double var = (1 - t) * (1 - t) * stds[0] * stds[0] + t * t;
    return -(x - (1 - t) * means[0]) / var;
  }
  double mean() const {
    double m = 0;
    for (size_t k = 0; k < weights.size(); ++k) m += weights[k] * means[k];
    return m;
  }
  double variance() const {
    double second = 0;
    for (size_t k = 0; k < weights.size(); ++k) second += weights[k] * (stds[k] * stds[k] + means[k] * means[k]);
    return second - mean() * mean();
  }
};

}  // namespace

TEST(SdeSampler, ScoreFromVelocityIsTheExactScoreOfGaussianData) {
  Mixture gaussian{{1.0}, {0.7}, {0.4}};
  auto x = torch::linspace(-3, 3, 61, torch::kFloat64);
  for (double t : {0.05, 0.3, 0.5, 0.9, 1.0}) {
    auto derived = score_from_velocity(x, gaussian.velocity(x, t), t);
    EXPECT_LT((derived - gaussian.score(x, t)).abs().max().item<double>(), 1e-12) << t;
  }
}

// One noisy step and the noise-free last one against SiT's Euler-Maruyama written out: drift
// v - D s, noise sqrt(2 D h) z, D = t for the sigma form, z the default generator's next draw.
TEST(SdeSampler, EachStepIsSiTsEulerMaruyamaStep) {
  auto x = torch::linspace(-2, 2, 24, torch::kFloat64).reshape({2, 12});
  VelocityFn v = [](const torch::Tensor& xs, const torch::Tensor&) { return 0.3 * xs + 0.1; };
  const double t0 = 0.8, t1 = 0.5, norm = 1.5;
  torch::manual_seed(7);
  auto sampled = sde_sample(v, x, {t0, t1, 0.0}, "sigma", norm);
  torch::manual_seed(7);
  auto z = torch::randn_like(x);
  auto step = [&](const torch::Tensor& at, double t, double h) {
    auto velocity = 0.3 * at + 0.1;
    auto score = -(at + (1 - t) * velocity) / t;
    return at - h * (velocity - norm * t * score);
  };
  auto noisy = step(x, t0, t0 - t1) + std::sqrt(2 * norm * t0 * (t0 - t1)) * z;
  auto expected = step(noisy, t1, t1);
  EXPECT_LT((sampled - expected).abs().max().item<double>(), 1e-12);
}

// Two well-separated components (weights 0.3 and 0.7): 50,000 samples. At 200 steps the mean,
// variance and the weight of the left component (the share of samples below 0) match within
// 0.05, 0.08 and 0.015 (a few Monte Carlo standard errors: 0.007, about 0.02 and 0.002); at 10
// steps the variance misses by more than at 200, for every diffusion form.
TEST(SdeSampler, SamplesMatchTheMarginalsOfAGaussianMixture) {
  Mixture mixture{{0.3, 0.7}, {-2.0, 1.5}, {0.3, 0.5}};
  const double left_weight = 0.3 + 0.7 * 0.5 * std::erfc(3.0 / std::sqrt(2.0));  // N(1.5, 0.5) below 0
  VelocityFn v = [&](const torch::Tensor& x, const torch::Tensor& t) {
    return mixture.velocity(x, t[0].item<double>());
  };
  for (const auto& form : entry_names(sde_diffusions())) {
    auto sample = [&](int steps) {
      torch::manual_seed(0);
      auto noise = torch::randn({50000}, torch::kFloat64);
      std::vector<double> times(static_cast<size_t>(steps) + 1);
      for (int i = 0; i <= steps; ++i) times[i] = 1.0 - static_cast<double>(i) / steps;
      return sde_sample(v, noise, times, form);
    };
    auto fine = sample(200), coarse = sample(10);
    EXPECT_NEAR(fine.mean().item<double>(), mixture.mean(), 0.05) << form;
    EXPECT_NEAR(fine.var().item<double>(), mixture.variance(), 0.08) << form;
    EXPECT_NEAR((fine < 0).to(torch::kFloat64).mean().item<double>(), left_weight, 0.015) << form;
    EXPECT_GT(std::abs(coarse.var().item<double>() - mixture.variance()),
              std::abs(fine.var().item<double>() - mixture.variance()))
        << form;
  }
  EXPECT_ANY_THROW(sde_sample(v, torch::zeros({2}), {1.0, 0.0}, "brownian"));
}
