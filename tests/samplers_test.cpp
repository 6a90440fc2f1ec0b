#include <gtest/gtest.h>

#include <cmath>

#include "flowlab/sampling/dpm_solver.h"
#include "flowlab/sampling/guidance.h"
#include "flowlab/training/label_dropout.h"
#include "flowlab/sampling/samplers.h"
#include "flowlab/named_entries.h"
#include "flowlab/sampling/time_grids.h"

using namespace flowlab;

namespace {

// dx/dt = 2 t x, so x(t) = x(1) exp(t^2 - 1) and x(0) = x(1) / e. Depends on t, so a sampler that
// evaluates at the wrong times fails.
torch::Tensor field(const torch::Tensor& x, const torch::Tensor& t) {
  return 2.0 * t.to(x.dtype()).view({-1, 1}) * x;
}

torch::Tensor start() { return torch::tensor({{1.0, -2.0}, {0.5, 3.0}}, torch::kFloat64); }

double endpoint_error(const torch::Tensor& x) {
  return (x - start() / std::exp(1.0)).abs().max().item<double>();
}

using FixedSampler = torch::Tensor (*)(const VelocityFn&, torch::Tensor, const std::vector<double>&,
                                       const StepHook&);

double error_with(FixedSampler sampler, int steps) {
  return endpoint_error(sampler(field, start(), uniform_time_grid(steps), nullptr));
}

}  // namespace

TEST(Samplers, UniformGridRunsFromOneToZero) {
  auto g = uniform_time_grid(4);
  ASSERT_EQ(g.size(), 5u);
  EXPECT_DOUBLE_EQ(g.front(), 1.0);
  EXPECT_DOUBLE_EQ(g[1], 0.75);
  EXPECT_DOUBLE_EQ(g.back(), 0.0);
}

TEST(Samplers, EulerConvergesAtFirstOrder) {
  double e1 = error_with(euler_sample, 64), e2 = error_with(euler_sample, 128);
  EXPECT_LT(e2, 3e-2);
  EXPECT_NEAR(e1 / e2, 2.0, 0.15);
}

TEST(Samplers, HeunConvergesAtSecondOrder) {
  double e1 = error_with(heun_sample, 32), e2 = error_with(heun_sample, 64);
  EXPECT_LT(e2, 1e-4);
  EXPECT_NEAR(e1 / e2, 4.0, 0.3);
}

TEST(Samplers, MidpointConvergesAtSecondOrder) {
  double e1 = error_with(midpoint_sample, 32), e2 = error_with(midpoint_sample, 64);
  EXPECT_LT(e2, 5e-4);
  EXPECT_NEAR(e1 / e2, 4.0, 0.3);
}

TEST(Samplers, Rk45MeetsItsToleranceAndSpendsMoreWorkOnTighterOnes) {
  AdaptiveOptions loose, tight;
  loose.rtol = loose.atol = 1e-3;
  tight.rtol = tight.atol = 1e-7;
  auto a = rk45_sample(field, start(), loose);
  auto b = rk45_sample(field, start(), tight);
  EXPECT_LT(endpoint_error(a.x), 1e-2);
  EXPECT_LT(endpoint_error(b.x), 1e-5);
  EXPECT_GT(b.nfe, a.nfe);
  EXPECT_GT(a.accepted, 0);
}

TEST(Samplers, SampleFlowCountsEvaluations) {
  auto with = [](const std::string& sampler, double tolerance = 1e-3) {
    SamplingConfig s;
    s.sampler = sampler;
    s.steps = 10;
    s.rtol = s.atol = tolerance;
    return s;
  };
  EXPECT_EQ(sample_flow(with("euler"), field, start()).nfe, 10);
  EXPECT_EQ(sample_flow(with("heun"), field, start()).nfe, 20);
  EXPECT_EQ(sample_flow(with("midpoint"), field, start()).nfe, 20);
  EXPECT_EQ(sample_flow(with("sde"), field, start()).nfe, 10);
  auto r = sample_flow(with("rk45", 1e-4), field, start());
  EXPECT_GT(r.nfe, 7);
  EXPECT_LT(endpoint_error(r.x), 1e-3);
  EXPECT_ANY_THROW(sample_flow(with("nope"), field, start()));
}

// The grids against their closed forms: SD3's shift at s = 3 maps 0.75, 0.5, 0.25 to 0.9, 0.75,
// 0.5; EDM's three noise levels for 4 steps are 80, (80^(1/7) + (0.002^(1/7) - 80^(1/7)) / 2)^7
// and 0.002, at t = sigma / (1 + sigma) (the values from Python's floats).
TEST(Samplers, EveryTimeGridMatchesItsClosedForm) {
  auto expect_grid = [](const std::vector<double>& got, const std::vector<double>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << i;
  };
  expect_grid(time_grid("uniform", 4), {1.0, 0.75, 0.5, 0.25, 0.0});
  expect_grid(time_grid("shift", 4, 3.0), {1.0, 0.9, 0.75, 0.5, 0.0});
  expect_grid(time_grid("edm", 4), {1.0, 0.987654320987654, 0.715522700922591, 0.00199600798403194, 0.0});
  expect_grid(time_grid("edm", 1), {1.0, 0.0});
  for (const auto& schedule : entry_names(time_grids()))
    for (int steps : {1, 2, 7, 50}) {
      auto g = time_grid(schedule, steps);
      ASSERT_EQ(g.size(), static_cast<size_t>(steps) + 1);
      EXPECT_EQ(g.front(), 1.0);
      EXPECT_EQ(g.back(), 0.0);
      for (int i = 0; i < steps; ++i) EXPECT_GT(g[i], g[i + 1]) << schedule << " " << steps;
    }
  EXPECT_ANY_THROW(time_grid("karras", 4));
  // A last step of 0.04: SiT's SDE grid, linspace(1, 0.04, steps) then 0.
  expect_grid(time_grid("uniform", 5, 3.0, 0.04), {1.0, 0.76, 0.52, 0.28, 0.04, 0.0});
  expect_grid(time_grid("shift", 3, 3.0, 0.2), {1.0, 0.2 + 0.8 * 0.75, 0.2, 0.0});
  EXPECT_ANY_THROW(time_grid("uniform", 1, 3.0, 0.04));
}

// The error ratio as the steps double from 64 to 128 is near 4 on every grid (2 would be first
// order): 3.99 (uniform), 3.80 (edm, whose first step, from t = 1 to sigma_max, does not shrink)
// and 3.51 (shift, still approaching 4 from below there).
TEST(Samplers, HeunConvergesAtSecondOrderOnEveryGrid) {
  for (const auto& schedule : entry_names(time_grids())) {
    auto error = [&](int steps) { return endpoint_error(heun_sample(field, start(), time_grid(schedule, steps))); };
    double e1 = error(64), e2 = error(128);
    EXPECT_LT(e2, 1e-4) << schedule;
    EXPECT_NEAR(e1 / e2, 4.0, 0.6) << schedule;
  }
}

TEST(Samplers, HookSeesEveryStepTimeAndCanReplaceTheState) {
  std::vector<double> seen;
  auto hook = [&seen](const torch::Tensor& x, double t) {
    seen.push_back(t);
    return torch::zeros_like(x);  // a hook that pins the state to 0 keeps it there
  };
  auto x = euler_sample(field, start(), uniform_time_grid(4), hook);
  EXPECT_EQ(seen, (std::vector<double>{0.75, 0.5, 0.25, 0.0}));
  EXPECT_EQ(x.abs().max().item<double>(), 0.0);
}

TEST(Guidance, CombinesConditionalAndNullInOneDoubleBatchInsideItsInterval) {
  int calls = 0;
  int64_t batch_seen = 0;
  ConditionalFn f = [&](const torch::Tensor& x, const torch::Tensor&, const torch::Tensor& y) {
    ++calls;
    batch_seen = x.size(0);
    return x * (y.to(x.dtype()) + 1).view({-1, 1});
  };
  auto y = torch::tensor({0, 3}, torch::kInt64);
  auto x = torch::ones({2, 2});
  auto t = torch::zeros({2});
  auto guided = classifier_free_guidance(f, y, 10, 3.0)(x, t);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(batch_seen, 4);
  // null output 11, conditional (y + 1): 11 + 3 (y + 1 - 11)
  EXPECT_FLOAT_EQ(guided[0][0].item<float>(), 11 + 3 * (1 - 11));
  EXPECT_FLOAT_EQ(guided[1][1].item<float>(), 11 + 3 * (4 - 11));
  // Scale 1 is the plain conditional call on N rows; scale 0 would be the null model.
  auto plain = classifier_free_guidance(f, y, 10, 1.0)(x, t);
  EXPECT_EQ(batch_seen, 2);
  EXPECT_FLOAT_EQ(plain[1][0].item<float>(), 4.0f);
  EXPECT_FLOAT_EQ(classifier_free_guidance(f, y, 10, 0.0)(x, t)[0][0].item<float>(), 11.0f);

  // The guidance interval: rows with t inside are guided, the others get the conditional call
  // alone, and a step with no row inside costs one batch of N.
  GuidanceInterval interval{0.2, 0.6};
  auto mixed = classifier_free_guidance(f, y, 10, 3.0, interval)(x, torch::tensor({0.1, 0.4}));
  EXPECT_FLOAT_EQ(mixed[0][0].item<float>(), 1.0f);                // outside: conditional
  EXPECT_FLOAT_EQ(mixed[1][1].item<float>(), 11 + 3 * (4 - 11));  // inside: guided
  calls = 0;
  auto outside = classifier_free_guidance(f, y, 10, 3.0, interval)(x, torch::full({2}, 0.9));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(batch_seen, 2);
  EXPECT_TRUE(torch::equal(outside, plain));
  auto inside = classifier_free_guidance(f, y, 10, 3.0, interval)(x, torch::full({2}, 0.6));  // closed interval
  EXPECT_TRUE(torch::equal(inside, guided));
}

TEST(Guidance, DropLabelsReplacesTheConfiguredFraction) {
  torch::manual_seed(1);
  auto y = torch::zeros({10000}, torch::kInt64);
  StepRandom rng;
  auto dropped = drop_labels(y, 0.1, 10, rng);
  auto fraction = (dropped == 10).to(torch::kFloat).mean().item<double>();
  EXPECT_NEAR(fraction, 0.1, 0.01);
  EXPECT_TRUE(torch::equal(drop_labels(y, 0.0, 10, rng), y));
}

// DPM-Solver++(2M) with the exact velocity of Gaussian data N(mu, s^2): the flow from x(1) = z
// ends at mu + s z. On the edm grid the error quarters as the steps double (64 to 128: about
// 4.4; Euler on the same grid halves it); on a one-point dataset (s = 0) every step's data
// prediction is the point itself.
TEST(Samplers, DpmSolverPlusPlusConvergesAtSecondOrderOnGaussianData) {
  const double mu = 0.7, s = 0.4;
  VelocityFn gaussian = [&](const torch::Tensor& x, const torch::Tensor& t_tensor) {
    const double t = t_tensor[0].item<double>();
    auto d = x - (1 - t) * mu;
    return -mu + d * (t - (1 - t) * s * s) / ((1 - t) * (1 - t) * s * s + t * t);
  };
  auto z = torch::tensor({1.3, -0.4, 0.0, 2.1}, torch::kFloat64);
  auto error = [&](int steps) {
    return (dpm_solver_pp_2m_flow(gaussian, z, time_grid("edm", steps)) - (mu + s * z)).abs().max().item<double>();
  };
  double e1 = error(64), e2 = error(128);
  EXPECT_LT(e2, 1e-3);
  EXPECT_NEAR(e1 / e2, 4.0, 0.6);
  VelocityFn one_point = [&](const torch::Tensor& x, const torch::Tensor& t) {
    return (x - mu) / t[0].item<double>();  // eps - x0 with x0 = mu
  };
  auto landed = dpm_solver_pp_2m_flow(one_point, z, uniform_time_grid(5));
  EXPECT_LT((landed - mu).abs().max().item<double>(), 1e-7);  // t reaches v as float32
}

