// compute.cuda_graphs. On any machine: the captured step's maths (AdamW with device scalars, the
// EMA's device-scalar update, the whole graphable step run eagerly) against the eager training
// step, and the one-line refusals. On a CUDA machine only: replayed steps and replayed sampling
// against eager ones.
#include <gtest/gtest.h>

#include "flowlab/cuda_graph.h"
#include "flowlab/error.h"
#include "flowlab/methods/registry.h"
#include "flowlab/models/backbone.h"
#include "flowlab/sampling/graphed_sampling.h"
#include "flowlab/training/adamw_update.h"
#include "flowlab/training/graphed_step.h"
#include "flowlab/training/training_run.h"
#include "flowlab/training/training_state.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

// A loss without random draws, so two step implementations see the same numbers:
// the network's output at t = 0.3 regressed onto the input.
class FixedTimeMethod : public Method {
 public:
  std::string name() const override { return "cfm"; }
  LossOutput loss(Network& model, const torch::Tensor& x, const torch::Tensor& y, StepRandom&) override {
    auto t = torch::full({x.size(0)}, 0.3, x.options());
    auto error = (as_backbone(model).forward(x, t, y) - x).pow(2).mean();
    return {error, {{"error", error.detach()}}};
  }
  SampleOutput sample(Backbone&, const torch::Tensor&, const torch::Tensor&, const SamplingConfig&,
                      const StepHook&) override {
    throw Error("FixedTimeMethod does not sample");
  }
};

double largest_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double largest = 0;
  for (size_t i = 0; i < a.size(); ++i) largest = std::max(largest, (a[i] - b[i]).abs().max().item<double>());
  return largest;
}

Config graphed_config(const std::string& dir) {
  auto config = tiny_config(dir);
  config.training.batch_size = 8;
  config.training.accumulate = 2;
  config.training.grad_clip = 0.05;  // small enough that every step clips
  config.training.weight_decay = 0.5;  // large, so a decay left out would show
  config.training.ema_decay = 0.9;
  config.training.ema_decays = {0.9, 0.5};
  config.training.ema_warmup = true;
  config.training.cfg_dropout = 0.0;  // label dropout draws: the eager step reseeds, the graphable one not
  return config;
}

}  // namespace

TEST(DeviceScalarAdamW, MakesLibTorchAdamWsStepsAndKeepsItsState) {
  // Two copies of one parameter set, fed the same gradients at a changing learning rate.
  torch::manual_seed(3);
  std::vector<torch::Tensor> mine{torch::randn({5, 3}).requires_grad_(), torch::randn({7}).requires_grad_()};
  std::vector<torch::Tensor> theirs;
  const auto start = mine[0].detach().clone();
  for (const auto& p : mine) theirs.push_back(p.detach().clone().requires_grad_());
  auto options = torch::optim::AdamWOptions(1e-2).betas({0.9, 0.95}).weight_decay(0.1).eps(1e-6);
  torch::optim::AdamW reference(theirs, options), held(mine, options);
  DeviceScalarAdamW device_scalars(held);
  for (int step = 0; step < 6; ++step) {
    const double lr = 1e-2 / (1 + step);
    for (size_t i = 0; i < mine.size(); ++i) {
      auto g = torch::randn_like(mine[i]);
      mine[i].mutable_grad() = g.clone();
      theirs[i].mutable_grad() = g.clone();
    }
    for (auto* optimizer : {&reference, &held})
      for (auto& group : optimizer->param_groups()) group.options().set_lr(lr);
    if (step < 4) {
      device_scalars.prepare(lr);
      device_scalars.update();
    } else {
      held.step();  // LibTorch's own step finds the state the device-scalar steps kept
    }
    reference.step();
    EXPECT_LT(largest_difference(mine, theirs), 1e-6) << "step " << step;
  }
  // The weights moved far more than that tolerance, so agreement is not trivial.
  EXPECT_GT((mine[0] - start).abs().max().item<double>(), 1e-2);
  ASSERT_EQ(held.state().size(), mine.size());
  for (const auto& [key, state] : held.state())
    EXPECT_EQ(static_cast<torch::optim::AdamWParamState&>(*state).step(), 6);
}

TEST(Ema, TheDeviceScalarUpdateIsTheHostOne) {
  auto config = tiny_config("unused");
  auto model = make_network(config), host_shadow = make_network(config), device_shadow = make_network(config);
  Ema host(model, host_shadow, 0.9, true), device(model, device_shadow, 0.9, true);
  for (auto& p : model->parameters()) p.data().add_(1.0);
  for (int64_t step = 1; step <= 3; ++step) {
    host.update(step);
    device.update(torch::tensor(1.0 - device.decay_at(step)));
  }
  EXPECT_LT(largest_difference(host_shadow->parameters(), device_shadow->parameters()), 1e-6);
  // The weights moved by 1 lag by the product of the warm-up decays (1 + s) / (10 + s), s = 1, 2, 3.
  EXPECT_NEAR(largest_difference(device_shadow->parameters(), model->parameters()), 2.0 / 11 * 3.0 / 12 * 4.0 / 13,
              1e-5);
}

TEST(GraphedTrainStep, ItsDeviceWorkRunEagerlyMakesTheTrainingStepsUpdates) {
  TempDir dir;
  auto config = graphed_config(dir / "run");
  FixedTimeMethod method;
  auto eager = make_training_state(config, torch::kCPU);
  auto graphable = make_training_state(config, torch::kCPU);
  GraphedTrainStep graphed(graphable, method, config, torch::kCPU, /*capture=*/false);
  auto data = tiny_dataset(2);
  for (int64_t step = 0; step < 4; ++step) {
    auto batch = data.batch(torch::arange(8));
    const double lr = 2e-3 * (1.0 - 0.2 * static_cast<double>(step));
    StepRandom rng(config.training.seed, step, {0, 8, 8});
    auto a = train_step(eager, method, batch, config, lr, rng);
    auto b = graphed(batch, lr);
    EXPECT_NEAR(a.update.loss.item<double>(), b.update.loss.item<double>(), 1e-6) << "step " << step;
    EXPECT_NEAR(a.update.grad_norm.item<double>(), b.update.grad_norm.item<double>(),
                1e-5 * a.update.grad_norm.item<double>());
    EXPECT_GT(a.update.grad_norm.item<double>(), config.training.grad_clip);  // clipping did work
    EXPECT_NEAR(a.metrics.at("error").item<double>(), b.metrics.at("error").item<double>(), 1e-6);
  }
  EXPECT_EQ(graphable.step, 4);
  // AdamW's update rounds differently with a device scalar, and near-zero gradients turn such
  // float noise into steps of up to the learning rate: the weights agree to 1e-4, where a wrong
  // bias correction, decay, clip or EMA weight moves them by 1e-3 or more.
  EXPECT_LT(largest_difference(eager.model->parameters(), graphable.model->parameters()), 1e-4);
  for (size_t i = 0; i < eager.emas.size(); ++i)
    EXPECT_LT(largest_difference(eager.emas[i]->shadow()->parameters(), graphable.emas[i]->shadow()->parameters()),
              1e-4)
        << "EMA " << i;
  // 4 steps of lr ~2e-3 moved the weights by far more than that tolerance.
  auto fresh = make_training_state(config, torch::kCPU);
  EXPECT_GT(largest_difference(fresh.model->parameters(), graphable.model->parameters()), 1e-3);
  EXPECT_FALSE(graphed.non_finite_seen());
  // A non-finite batch is applied (a captured step cannot skip it) and flagged.
  auto bad = data.batch(torch::arange(8));
  bad.images[0][0][0][0] = std::nan("");
  graphed(bad, 1e-3);
  EXPECT_TRUE(graphed.non_finite_seen());
}

TEST(CudaGraphs, AreRefusedInOneLineWhereTheyCannotRun) {
  TempDir dir;
  auto config = graphed_config(dir / "run");
  config.compute.cuda_graphs = true;
  auto message = error_of([&] { check_cuda_graphs(config, 1); });
  EXPECT_NE(message.find("compute.cuda_graphs"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  // Training refuses before it loads data or writes anything.
  EXPECT_EQ(error_of([&] { plan_training_run(config); }), message);
  EXPECT_NE(error_of([&] { CapturedWork([] {}, torch::kCPU, "nothing"); }).find("compute.cuda_graphs"),
            std::string::npos);
  if (!cuda_graphs_built() || !torch::cuda::is_available()) {
    EXPECT_NE(message.find(cuda_graphs_built() ? "device is cpu" : "CPU-only"), std::string::npos) << message;
  }
  // The rest, each in one line, wherever the build could capture.
  config.training.device = "cuda";
  if (cuda_graphs_built()) {
    config.training.optimizer = "muon";
    EXPECT_NE(error_of([&] { check_cuda_graphs(config, 1); }).find("muon"), std::string::npos);
    config.training.optimizer = "adamw";
    EXPECT_NE(error_of([&] { check_cuda_graphs(config, 2); }).find("one process"), std::string::npos);
  }
  // Samplers that decide on the device run eagerly, and say why.
  SamplingConfig sampling;
  sampling.sampler = "rk45";
  EXPECT_NE(not_capturable(sampling, torch::kCUDA).find("rk45"), std::string::npos);
  sampling.sampler = "euler";
  sampling.cfg_scale = 2.0;
  sampling.cfg_t_min = 0.2;
  EXPECT_NE(not_capturable(sampling, torch::kCUDA).find("interval"), std::string::npos);
  sampling.cfg_t_min = 0.0;
  EXPECT_EQ(not_capturable(sampling, torch::kCUDA), cuda_graphs_unavailable(torch::kCUDA));
  // Turned off, nothing is checked.
  config.compute.cuda_graphs = false;
  config.training.device = "cpu";
  EXPECT_NO_THROW(check_cuda_graphs(config, 4));
}

TEST(CudaGraphs, TenReplayedStepsMakeTheEagerStepsWeightsAndSamples) {
  if (!cuda_graphs_built() || !torch::cuda::is_available()) GTEST_SKIP() << "needs a CUDA build and a GPU";
  TempDir dir;
  auto config = graphed_config(dir / "run");
  config.training.device = "cuda";
  auto method = make_method(config);  // CFM: its draws come from the CUDA generator
  const torch::Device cuda(torch::kCUDA);
  auto eager = make_training_state(config, cuda), replayed = make_training_state(config, cuda);
  GraphedTrainStep reference(eager, *method, config, cuda, /*capture=*/false);
  GraphedTrainStep graphed(replayed, *method, config, cuda, /*capture=*/true);
  auto data = tiny_dataset(2);
  for (int64_t step = 0; step < 10; ++step) {
    auto batch = data.batch(torch::arange(8));
    batch.images = batch.images.to(cuda);
    batch.labels = batch.labels.to(cuda);
    const double lr = 2e-3 * (1.0 - 0.05 * static_cast<double>(step));
    torch::manual_seed(100 + step);
    auto a = reference(batch, lr);
    torch::manual_seed(100 + step);
    auto b = graphed(batch, lr);
    EXPECT_NEAR(a.update.loss.item<double>(), b.update.loss.item<double>(), 1e-4 * a.update.loss.item<double>())
        << "step " << step;
  }
  EXPECT_TRUE(graphed.captured());
  EXPECT_LT(largest_difference(eager.model->parameters(), replayed.model->parameters()), 1e-4);
  EXPECT_LT(largest_difference(eager.ema_model()->parameters(), replayed.ema_model()->parameters()), 1e-4);

  // Sampling: Euler with CFG, the third call replayed, against the eager sampler.
  auto& model = as_backbone(*replayed.ema_model());
  SamplingConfig sampling = config.sampling;
  sampling.cfg_scale = 2.0;
  GraphedSampling sample(*method, model, sampling, cuda);
  auto noise = torch::randn({4, 3, 8, 8}, torch::TensorOptions().device(cuda));
  auto labels = torch::arange(4, torch::TensorOptions().device(cuda).dtype(torch::kInt64));
  sample(noise, labels);
  sample(noise * 0.5, labels);
  auto replayed_x = sample(noise, labels).x;
  auto eager_x = method->sample(model, noise, labels, sampling).x;
  EXPECT_LT((replayed_x - eager_x).abs().max().item<double>(), 1e-4);
}
