// training.accumulate: K micro-batches, each backpropagated in turn, make the same update as one
// batch K times their size (the per-row draws do not depend on the split), and a batch that does
// not split is one clear line.
#include <gtest/gtest.h>

#include <fstream>

#include "flowlab/methods/registry.h"
#include "flowlab/recipe.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/trainer.h"
#include "flowlab/training/training_state.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

// (loss, grad_norm) of every metrics.jsonl record.
std::vector<std::pair<double, double>> logged_steps(const std::string& metrics) {
  std::vector<std::pair<double, double>> out;
  std::ifstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    auto record = nlohmann::json::parse(line);
    out.emplace_back(record["loss"].get<double>(), record["grad_norm"].get<double>());
  }
  return out;
}

// The gradients of one training step at learning rate 0 (the weights stay as they were built).
std::vector<torch::Tensor> step_gradients(Config config, int accumulate) {
  config.training.accumulate = accumulate;
  auto method = make_method(config);
  auto state = make_training_state(config, torch::kCPU);
  auto data = tiny_dataset(8);
  auto batch = data.batch(torch::arange(16));
  StepRandom rng(config.training.seed, 0, {0, 16, 16});
  train_step(state, *method, batch, config, 0.0, rng);
  std::vector<torch::Tensor> grads;
  for (const auto& p : state.params) grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return grads;
}

}  // namespace

TEST(Accumulation, MicroBatchesMakeTheUpdateOfTheWholeBatch) {
  TempDir dir;
  for (const std::string method : {"cfm", "meanflow"}) {
    auto config = method == "cfm" ? tiny_config(dir / method) : tiny_meanflow_config(dir / method);
    config.training.batch_size = 16;
    // The gradients of one step: the same from one batch of 16 as from 4 micro-batches of 4.
    auto whole = step_gradients(config, 1), split = step_gradients(config, 4);
    ASSERT_EQ(whole.size(), split.size());
    double largest = 0;
    for (const auto& g : whole) largest = std::max(largest, g.abs().max().item<double>());
    EXPECT_GT(largest, 1e-3) << method;
    for (size_t i = 0; i < whole.size(); ++i)
      EXPECT_LE((whole[i] - split[i]).abs().max().item<double>(), 1e-5 * largest) << method << " parameter " << i;
    // Through the trainer: every step's loss and gradient norm. (The weights themselves are not
    // compared: AdamW turns float noise in near-zero gradients into steps of the learning rate.)
    auto run = [&](int accumulate) {
      auto c = config;
      c.training.output_dir = dir / (method + std::to_string(accumulate));
      c.training.steps = 3;
      c.training.log_every = 1;
      c.training.accumulate = accumulate;
      auto m = make_method(c);
      auto data = tiny_dataset(8);
      Trainer(c, data, *m).run("", 0);
      return logged_steps(c.training.output_dir + "/metrics.jsonl");
    };
    auto a = run(1), b = run(4);
    ASSERT_EQ(a.size(), 3u) << method;
    ASSERT_EQ(b.size(), 3u) << method;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_NEAR(a[i].first, b[i].first, 1e-5 * std::abs(a[i].first)) << method << " step " << i;
      EXPECT_NEAR(a[i].second, b[i].second, 1e-4 * a[i].second) << method << " step " << i;
    }
  }
  // 16 rows do not split into 3 micro-batches.
  auto config = tiny_config(dir / "bad");
  config.training.batch_size = 16;
  config.training.accumulate = 3;
  auto m = make_method(config);
  auto data = tiny_dataset(8);
  auto message = error_of([&] { Trainer(config, data, *m).run("", 0); });
  EXPECT_NE(message.find("16 rows, which do not split into training.accumulate = 3 micro-batches"), std::string::npos)
      << message;
}
