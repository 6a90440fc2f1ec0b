#include <gtest/gtest.h>

#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/methods/registry.h"
#include "flowlab/models/registry.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/trainer.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

struct TrainedRun {
  TempDir dir;
  Config config;
  std::string checkpoint;
  BackbonePtr model, ema;
};

std::unique_ptr<TrainedRun> train_briefly() {
  auto run = std::make_unique<TrainedRun>();
  auto data = tiny_dataset(8);
  run->config = tiny_config(run->dir.path());
  run->config.training.steps = 3;
  auto method = make_method(run->config);
  Trainer trainer(run->config, data, *method);
  run->checkpoint = trainer.run().checkpoint;
  run->model = trainer.model();
  run->ema = trainer.ema_model();
  return run;
}

}  // namespace

TEST(Checkpoint, RoundTripRestoresConfigStepClassesAndBothWeightSets) {
  auto run = train_briefly();
  CheckpointReader reader(run->checkpoint);
  EXPECT_EQ(reader.step(), 3);
  EXPECT_EQ(reader.class_names(), tiny_dataset(1).class_names);
  EXPECT_EQ(config_to_yaml(reader.config()), read_file_text(run->dir / "config.yaml"));
  auto model = make_backbone(reader.config());
  reader.load_weights(*model, false);
  auto ema = make_backbone(reader.config());
  reader.load_weights(*ema, true);
  auto p = model->parameters(), q = run->model->parameters();
  auto e = ema->parameters(), f = run->ema->parameters();
  for (size_t i = 0; i < p.size(); ++i) {
    EXPECT_TRUE(torch::equal(p[i], q[i]));
    EXPECT_TRUE(torch::equal(e[i], f[i]));
  }
  EXPECT_FALSE(torch::equal(p.back(), e.back()));  // EMA differs from the raw weights
  EXPECT_FALSE(std::filesystem::exists(run->checkpoint + ".tmp"));
}

TEST(Checkpoint, TruncatedRandomForeignAndNewerFilesAreClearErrors) {
  auto run = train_briefly();
  auto bytes = read_file_bytes(run->checkpoint);
  auto truncated = run->dir / "truncated.pt";
  write_bytes(truncated, std::vector<uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2));
  EXPECT_NE(error_of([&] { CheckpointReader r(truncated); }).find("not a readable checkpoint"),
            std::string::npos);

  auto random = run->dir / "random.pt";
  std::vector<uint8_t> noise(5000);
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<uint8_t>(i * 7919 % 251);
  write_bytes(random, noise);
  EXPECT_NE(error_of([&] { CheckpointReader r(random); }).find("not a readable checkpoint"),
            std::string::npos);

  // A LibTorch archive without flowlab's keys.
  auto foreign = run->dir / "foreign.pt";
  torch::serialize::OutputArchive other;
  other.write("weight", torch::ones({2}));
  other.save_to(foreign);
  EXPECT_NE(error_of([&] { CheckpointReader r(foreign); }).find("not a flowlab checkpoint"),
            std::string::npos);

  auto newer = run->dir / "newer.pt";
  torch::serialize::OutputArchive future;
  future.write("format_version", torch::tensor(int64_t{99}));
  future.save_to(newer);
  EXPECT_NE(error_of([&] { CheckpointReader r(newer); }).find("newer than this build"),
            std::string::npos);

  EXPECT_NE(error_of([&] { CheckpointReader r(run->dir / "missing.pt"); }).find("does not exist"),
            std::string::npos);
}

TEST(Checkpoint, ExportedWeightsAreANameToTensorDict) {
  auto run = train_briefly();
  auto path = run->dir / "weights_ema.pt";
  ASSERT_TRUE(std::filesystem::exists(path));
  auto bytes = read_file_bytes(path);
  auto value = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  ASSERT_TRUE(value.isGenericDict());
  auto dict = value.toGenericDict();
  auto params = run->ema->named_parameters();
  EXPECT_EQ(dict.size(), params.size());
  for (const auto& p : params) {
    ASSERT_TRUE(dict.contains(p.key())) << p.key();
    EXPECT_TRUE(torch::equal(dict.at(p.key()).toTensor(), p.value())) << p.key();
  }
  EXPECT_TRUE(dict.contains("class_embed.weight"));
  EXPECT_TRUE(dict.contains("down.0.res.0.conv1.weight"));
}
