// Unconditional models (model.num_classes 0) on labelled datasets: every row gets the null label
// in training, and sampling, FID and inpainting work on their checkpoints.
#include <gtest/gtest.h>

#include <filesystem>

#include "flowlab/methods/registry.h"
#include "flowlab/training/trainer.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

TEST(Unconditional, TrainingOnALabelledDatasetGivesEveryRowTheNullLabel) {
  TempDir dir;
  auto data = tiny_dataset(8);  // labels 0..3
  auto config = tiny_config(dir.path());
  config.model.num_classes = 0;
  config.training.cfg_dropout = 0.1;
  config.training.steps = 3;
  RecordingMethod method(make_method(config));
  Trainer trainer(config, data, method);
  EXPECT_EQ(trainer.run().step, 3);
  EXPECT_EQ(trainer.model()->num_classes(), 0);
  ASSERT_EQ(method.labels.size(), 3u);
  for (const auto& y : method.labels) EXPECT_TRUE(torch::equal(y, torch::zeros_like(y))) << y;
}

TEST(Unconditional, QuickstartTrainsSamplesEvaluatesAndInpaints) {
  TempDir d;
  auto run = run_command(app("train_cfm") + " --config " + FLOWLAB_CONFIGS_DIR + "/quickstart.yaml " +
                         "--set model.num_classes=0 --set data.num_images=64 --set model.base_channels=8 " +
                         "--steps 3 --batch_size 8 --threads 1 --set training.sample_every=0 " +
                         "--output_dir " + (d / "run"));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto checkpoint = d / "run/last.pt";
  auto samples = run_command(app("generate_samples") + " --checkpoint " + checkpoint +
                             " --num_samples 6 --steps 2 --threads 1 --save_individual --output_dir " +
                             (d / "samples"));
  ASSERT_EQ(samples.exit_code, 0) << samples.output;
  EXPECT_TRUE(std::filesystem::exists(d / "samples/images/00005.png")) << samples.output;

  auto fid = app("evaluate_fid") + " --checkpoint " + checkpoint + " --reference " + (d / "samples/images") +
             " --random_weights --num_samples 4 --batch_size 4 --steps 2 --threads 1 --output ";
  auto scored = run_command(fid + (d / "fid.json"));
  ASSERT_EQ(scored.exit_code, 0) << scored.output;
  EXPECT_TRUE(std::filesystem::exists(d / "fid.json"));
  auto per_class = run_command(fid + (d / "per_class.json") + " --per_class");
  EXPECT_NE(per_class.exit_code, 0);
  EXPECT_NE(per_class.output.find("--per_class: the checkpoint holds an unconditional model"),
            std::string::npos) << per_class.output;
  EXPECT_FALSE(std::filesystem::exists(d / "per_class.json"));

  auto inpainted = run_command(app("inpaint") + " evaluate --checkpoint " + checkpoint +
                               " --num_samples 4 --steps 2 --mask_type center --threads 1");
  EXPECT_EQ(inpainted.exit_code, 0) << inpainted.output;
}
