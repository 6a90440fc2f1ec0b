// Reflow: couplings written, resumed and read back (data/couplings.h, tasks/couplings.h), the
// paired noise reaching the loss, and one reflow round straightening a flow on a 1-D mixture.
#include <gtest/gtest.h>

#include <filesystem>

#include "flowlab/data/couplings.h"
#include "flowlab/error.h"
#include "flowlab/methods/registry.h"
#include "flowlab/recipe.h"
#include "flowlab/sampling/generation_batches.h"
#include "flowlab/tasks/couplings.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/sampling_model.h"
#include "flowlab/training/training_run.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

// A velocity field on 1-D data stored as (N, 1, 1, 1) images: an MLP of (x, t).
class LineVelocity : public Backbone {
 public:
  LineVelocity() {
    mlp_ = register_module("mlp", torch::nn::Sequential(torch::nn::Linear(2, 64), torch::nn::SiLU(),
                                                        torch::nn::Linear(64, 64), torch::nn::SiLU(),
                                                        torch::nn::Linear(64, 1)));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor&) override {
    return mlp_->forward(torch::stack({x.view({-1}), t}, 1)).view({-1, 1, 1, 1});
  }
  std::string type_name() const override { return "line"; }
  int64_t num_classes() const override { return 0; }

 private:
  torch::nn::Sequential mlp_{nullptr};
};

// n draws of the mixture 1/2 N(-1.5, 0.3^2) + 1/2 N(1.5, 0.3^2), as (n, 1, 1, 1).
torch::Tensor mixture(int64_t n) {
  auto side = torch::randint(0, 2, {n, 1, 1, 1}).to(torch::kFloat32) * 3.0 - 1.5;
  return side + 0.3 * torch::randn({n, 1, 1, 1});
}

// CFM steps with Adam; `noise_for`, when given, pairs each batch with its own noise (couplings).
void train(LineVelocity& model, int steps, const std::function<Batch(int step)>& batch_at) {
  auto method = make_method(Config{});  // cfm
  torch::optim::Adam adam(model.parameters(), torch::optim::AdamOptions(3e-3));
  for (int step = 0; step < steps; ++step) {
    auto batch = batch_at(step);
    StepRandom rng;
    if (batch.noise.defined()) rng.pair_noise(batch.noise);
    adam.zero_grad();
    method->loss(model, batch.images, batch.labels, rng).loss.backward();
    adam.step();
  }
}

// Euler with `steps` steps from `noise`.
torch::Tensor euler(LineVelocity& model, const torch::Tensor& noise, int steps) {
  SamplingConfig s;
  s.sampler = "euler";
  s.steps = steps;
  s.cfg_scale = 1.0;
  return make_method(Config{})->sample(model, noise, torch::zeros({noise.size(0)}, torch::kInt64), s).x;
}

// How far one Euler step lands from 100: 0 for straight paths.
double curvature(LineVelocity& model) {
  torch::manual_seed(99);
  auto noise = torch::randn({512, 1, 1, 1});
  return (euler(model, noise, 1) - euler(model, noise, 100)).pow(2).mean().item<double>();
}

}  // namespace

TEST(Reflow, OneRoundStraightensTheFlowOfAOneDimensionalMixture) {
  TempDir dir;
  torch::manual_seed(0);
  LineVelocity teacher;
  train(teacher, 1500, [](int) { return Batch{mixture(256), torch::zeros({256}, torch::kInt64), {}}; });
  // The couplings: 4,096 noises and the teacher's 100-step Euler images of them, in 4 parts.
  torch::manual_seed(1);
  auto noise = torch::randn({4096, 1, 1, 1});
  auto images = euler(teacher, noise, 100);
  CouplingsManifest manifest{"teacher", "euler", 100, 1.0, 1, 4096, 1024, {1, 1, 1}, {}};
  write_couplings_manifest(dir.path(), manifest);
  for (int64_t part = 0; part < 4; ++part)
    write_couplings_part(dir.path(), part, noise.slice(0, part * 1024, (part + 1) * 1024),
                         images.slice(0, part * 1024, (part + 1) * 1024), torch::zeros({1024}, torch::kInt64));
  auto couplings = load_couplings(dir.path());
  ASSERT_TRUE(torch::equal(couplings.noise, noise));
  ASSERT_TRUE(torch::equal(couplings.images, images));
  // The student starts from the teacher and trains on the pairs (the batch hands each image's noise on).
  LineVelocity student;
  {
    torch::NoGradGuard no_grad;
    auto from = teacher.parameters(), to = student.parameters();
    for (size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
  }
  train(student, 1500, [&](int) { return couplings.batch(torch::randint(0, 4096, {256})); });
  const double before = curvature(teacher), after = curvature(student);
  EXPECT_GT(before, 0.05) << "the teacher's paths should bend between the two modes";
  EXPECT_LT(after, 0.5 * before) << "before " << before << ", after " << after;
  // The student still makes the mixture: its 100-step samples sit at the modes.
  torch::manual_seed(5);
  auto samples = euler(student, torch::randn({2048, 1, 1, 1}), 100);
  EXPECT_NEAR(samples.abs().mean().item<double>(), 1.5, 0.2);
}

TEST(Reflow, PairedNoiseIsWhatTheLossDrawsAndMicroBatchesSplitIt) {
  auto paired = torch::randn({8, 1, 2, 2});
  StepRandom rng(1, 0, {0, 8, 8});
  rng.pair_noise(paired);
  EXPECT_TRUE(torch::equal(rng.randn_like(torch::zeros({8, 1, 2, 2})), paired));
  EXPECT_TRUE(torch::equal(rng.micro_batch(1, 2).randn_like(torch::zeros({4, 1, 2, 2})), paired.slice(0, 4, 8)));
  EXPECT_NE(error_of([&] { rng.randn_like(torch::zeros({8, 3, 2, 2})); }).find("paired noise"), std::string::npos);
}

TEST(Couplings, AreWrittenFromACheckpointResumedAndReadAsADataset) {
  TempDir dir;
  auto config = tiny_config(dir / "run");
  config.sampling.steps = 4;
  config.sampling.batch_size = 4;
  config.sampling.cfg_scale = 2.0;
  auto model = random_model(config);
  torch::optim::AdamW optimizer(model->parameters());
  std::vector<std::string> names{"half", "band", "checker", "corner"};
  save_checkpoint(dir / "cfm.pt", {config, 10, names, *model, {model.get()}, optimizer});
  auto checkpoint = open_for_sampling(dir / "cfm.pt");
  checkpoint.load(WeightChoice{}, torch::kCPU);
  auto labels = torch::arange(10, torch::kInt64) % 4;
  const auto out = dir / "pairs";
  auto first = write_couplings(checkpoint, labels, 7, out, torch::kCPU);
  EXPECT_EQ(first.written, 3);  // 10 pairs in batches of 4
  auto data = load_couplings(out);
  ASSERT_EQ(data.size(), 10);
  EXPECT_EQ(data.class_names, names);
  EXPECT_TRUE(torch::equal(data.labels, labels));
  // Part 1 is batch 1's noise (seed 7) and the sampler's image of it.
  auto noise = generation_noise(7, {1, 4, 4}, 3, 8);
  EXPECT_TRUE(torch::equal(data.noise.slice(0, 4, 8), noise));
  auto expected = checkpoint.method->sample(*checkpoint.model, noise, labels.slice(0, 4, 8), checkpoint.config.sampling);
  EXPECT_TRUE(torch::allclose(data.images.slice(0, 4, 8), expected.x, 1e-5, 1e-6));
  // A batch of it carries the noise, and couplings never flip.
  auto batch = data.batch(torch::tensor({5, 2}));
  EXPECT_TRUE(torch::equal(batch.noise, torch::stack({data.noise[5], data.noise[2]})));
  DataConfig flips;
  flips.random_flip = "true";
  EXPECT_NE(error_of([&] { random_flip_enabled(flips, data); }).find("random_flip"), std::string::npos);
  // A stopped run lacks a part: reading says so; rerunning writes only that part, the same pairs.
  std::filesystem::remove(couplings_part_path(out, 1));
  EXPECT_NE(error_of([&] { load_couplings(out); }).find("unfinished"), std::string::npos);
  auto resumed = write_couplings(checkpoint, labels, 7, out, torch::kCPU);
  EXPECT_EQ(resumed.written, 1);
  EXPECT_EQ(resumed.kept, 2);
  auto again = load_couplings(out);
  EXPECT_TRUE(torch::equal(again.noise, data.noise));
  EXPECT_TRUE(torch::allclose(again.images, data.images, 1e-6, 1e-6));
  // Another request into the same directory is refused.
  EXPECT_NE(error_of([&] { write_couplings(checkpoint, labels, 8, out, torch::kCPU); }).find("another request"),
            std::string::npos);
  // A couplings dataset fits the model to its own size and channels.
  Config train = config;
  train.data.image_size = 16;
  fit_model_to_data(train, data);
  EXPECT_EQ(train.data.image_size, 8);
}
