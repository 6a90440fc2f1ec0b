// The learning-rate schedule and the EMA update against their closed forms.
#include <gtest/gtest.h>

#include <cmath>

#include "flowlab/config.h"
#include "flowlab/recipe.h"
#include "flowlab/training/ema.h"
#include "flowlab/training/lr_schedule.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

TEST(LrSchedule, LinearWarmUpThenCosineToTheMinimum) {
  SchedulerConfig s;
  s.type = "cosine";
  s.warmup_steps = 10;
  s.min_lr = 1e-4;
  const double lr = 1e-3;
  const int64_t total = 110;  // 100 cosine steps after the warm-up
  EXPECT_DOUBLE_EQ(learning_rate_at(0, total, lr, s), lr / 10);
  EXPECT_DOUBLE_EQ(learning_rate_at(4, total, lr, s), lr * 5 / 10);
  EXPECT_DOUBLE_EQ(learning_rate_at(9, total, lr, s), lr);
  for (int64_t step : {10, 35, 60, 85, 109}) {
    double progress = static_cast<double>(step - 10) / 100;
    EXPECT_NEAR(learning_rate_at(step, total, lr, s),
                s.min_lr + 0.5 * (lr - s.min_lr) * (1 + std::cos(M_PI * progress)), 1e-15)
        << step;
  }
  EXPECT_NEAR(learning_rate_at(60, total, lr, s), (lr + s.min_lr) / 2, 1e-15);  // half way
  EXPECT_DOUBLE_EQ(learning_rate_at(110, total, lr, s), s.min_lr);
  EXPECT_DOUBLE_EQ(learning_rate_at(500, total, lr, s), s.min_lr);  // past the end: stays there
}

TEST(LrSchedule, ConstantKeepsTheRateAfterTheWarmUp) {
  SchedulerConfig s;
  s.type = "constant";
  s.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(learning_rate_at(1, 100, 2e-4, s), 1e-4);
  for (int64_t step : {4, 50, 99}) EXPECT_DOUBLE_EQ(learning_rate_at(step, 100, 2e-4, s), 2e-4);
  s.warmup_steps = 0;
  EXPECT_DOUBLE_EQ(learning_rate_at(0, 100, 2e-4, s), 2e-4);
}

TEST(Ema, ShadowFollowsTheHandComputedDecay) {
  TempDir dir;
  auto config = tiny_config(dir.path());
  auto model = make_backbone(config), shadow = make_backbone(config);
  Ema ema(model, shadow, 0.9, /*warmup=*/true);
  auto p = model->parameters()[0], s = shadow->parameters()[0];
  EXPECT_TRUE(torch::equal(s, p));  // starts as a copy
  auto start = p.detach().clone();
  // Warm-up: min(0.9, (1 + step) / (10 + step)) = 0.2, 0.25, ... 0.9 from step 71.
  EXPECT_DOUBLE_EQ(ema.decay_at(1), 2.0 / 11);
  EXPECT_DOUBLE_EQ(ema.decay_at(3), 4.0 / 13);
  EXPECT_DOUBLE_EQ(ema.decay_at(100), 0.9);
  auto expected = start.clone();
  for (int64_t step = 1; step <= 3; ++step) {
    {
      torch::NoGradGuard no_grad;
      p.fill_(static_cast<double>(step));  // the model's weights after update `step`
    }
    ema.update(step);
    double d = (1.0 + step) / (10.0 + step);
    expected = d * expected + (1 - d) * static_cast<double>(step);
  }
  EXPECT_TRUE(torch::allclose(s, expected, 1e-6, 1e-7));
  Ema plain(model, make_backbone(config), 0.9, /*warmup=*/false);
  EXPECT_DOUBLE_EQ(plain.decay_at(1), 0.9);
}
