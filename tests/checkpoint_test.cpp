#include <gtest/gtest.h>

#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/safetensors.h"
#include "flowlab/io/torch_file.h"
#include "flowlab/methods/registry.h"
#include "flowlab/recipe.h"
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
  auto value = read_torch_file(run->dir / "weights_ema.pt");
  auto dict = state_dict_of(value, "weights_ema.pt");
  auto params = run->ema->named_parameters();
  EXPECT_EQ(dict.size(), params.size() + run->ema->named_buffers().size());
  for (const auto& p : params) {
    ASSERT_TRUE(dict.count(p.key())) << p.key();
    EXPECT_TRUE(torch::equal(dict.at(p.key()), p.value())) << p.key();
  }
  EXPECT_TRUE(dict.count("class_embed.weight"));
  EXPECT_TRUE(dict.count("down.0.res.0.conv1.weight"));
}

// PyTorch 2.6 and later load with weights_only=True unless told otherwise: both the weight export
// and the checkpoint must load that way, with no warning, and agree with the safetensors export.
TEST(Checkpoint, PythonLoadsTheExportAndTheCheckpointWithWeightsOnly) {
  if (run_command("/usr/bin/python3 -c 'import torch, numpy'").exit_code != 0)
    GTEST_SKIP() << "needs /usr/bin/python3 with python3-torch (FLOWLAB_SETUP_PYTHON=1 scripts/setup.sh)";
  auto run = train_briefly();
  auto r = run_command("/usr/bin/python3 " + std::string(FLOWLAB_SCRIPTS_DIR) + "/checks/check_torch_load.py " +
                       run->dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("equal to weights_ema.safetensors: True"), std::string::npos) << r.output;
}

// Checkpoints written before format 2 (LibTorch's own archive) still resume and sample.
TEST(Checkpoint, FormatOneCheckpointsStillRead) {
  auto run = train_briefly();
  auto old_path = run->dir / "format1.pt";
  {
    torch::serialize::OutputArchive archive, model_archive, ema_archive, optimizer_archive;
    archive.write("format_version", torch::tensor(int64_t{1}));
    archive.write("config", c10::IValue(config_to_yaml(run->config)));
    archive.write("step", torch::tensor(int64_t{3}));
    run->model->save(model_archive);
    run->ema->save(ema_archive);
    archive.write("model", model_archive);
    archive.write("ema", ema_archive);
    auto method = make_method(run->config);
    auto optimizer = torch::optim::AdamW(run->model->parameters());
    optimizer.save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
    archive.save_to(old_path);
  }
  CheckpointReader reader(old_path);
  EXPECT_EQ(reader.step(), 3);
  auto ema = make_backbone(reader.config());
  reader.load_weights(*ema, true);
  auto e = ema->parameters(), f = run->ema->parameters();
  for (size_t i = 0; i < e.size(); ++i) EXPECT_TRUE(torch::equal(e[i], f[i]));
}

// Resuming reads the checkpoint onto the training device: every weight, EMA weight and AdamW
// moment stays there, the optimizer still steps the model's own tensors, and a step after the
// resume runs. On CPU only the identities can be checked; a CUDA build with a GPU also runs it on
// the GPU, where LibTorch's loader would otherwise move every tensor to the archive's device.
TEST(Checkpoint, ResumeKeepsWeightsEmaAndOptimizerStateOnTheTrainingDevice) {
  std::vector<std::string> devices = {"cpu"};
  if (torch::cuda::is_available()) devices.push_back("cuda");
  for (const auto& name : devices) {
    SCOPED_TRACE(name);
    TempDir dir;
    auto data = tiny_dataset(8);
    auto config = tiny_config(dir.path());
    config.training.device = name;
    config.training.steps = 2;
    auto method = make_method(config);
    Trainer(config, data, *method).run();
    config.training.steps = 3;
    Trainer resumed(config, data, *method);
    auto result = resumed.run(dir / "last.pt");
    EXPECT_EQ(result.step, 3);
    const auto device = resumed.device();
    auto params = resumed.model()->parameters();
    for (const auto& p : params) EXPECT_EQ(p.device().type(), device.type());
    for (const auto& p : resumed.ema_model()->parameters()) EXPECT_EQ(p.device().type(), device.type());
    auto* optimizer = resumed.optimizer();
    ASSERT_NE(optimizer, nullptr);
    const auto& stepped = optimizer->param_groups().at(0).params();
    ASSERT_EQ(stepped.size(), params.size());
    for (size_t i = 0; i < params.size(); ++i)
      EXPECT_TRUE(stepped[i].is_same(params[i])) << "parameter " << i;
    // One AdamW state per parameter (the state map's key type differs between LibTorch versions).
    EXPECT_EQ(optimizer->state().size(), params.size());
    for (const auto& entry : optimizer->state()) {
      auto& adam = static_cast<torch::optim::AdamWParamState&>(*entry.second);
      EXPECT_EQ(adam.exp_avg().device().type(), device.type());
      EXPECT_EQ(adam.exp_avg_sq().device().type(), device.type());
      EXPECT_EQ(adam.step(), 3);
    }
  }
}

TEST(Checkpoint, EmaWeightsAsSafetensorsStartANewRun) {
  auto run = train_briefly();
  auto path = run->dir / "weights_ema.safetensors";
  auto file = read_safetensors(path);
  auto ema = named_weights(*run->ema);
  ASSERT_EQ(file.tensors.size(), ema.size());
  for (const auto& [name, tensor] : ema) EXPECT_TRUE(torch::equal(file.tensors.at(name), tensor)) << name;
  EXPECT_EQ(file.metadata.at("flowlab_model"), "tiny_unet");
  EXPECT_NE(file.metadata.at("flowlab_config").find("num_res_blocks"), std::string::npos);

  // training.init_from takes them: the new run's model starts as the EMA model.
  TempDir next;
  auto config = run->config;
  config.training.output_dir = next.path();
  config.training.init_from = path;
  config.training.steps = 1;
  config.training.lr = 1e-12;  // one step that barely moves the weights
  config.scheduler.min_lr = 1e-12;
  auto method = make_method(config);
  auto data = tiny_dataset(8);
  Trainer trainer(config, data, *method);
  trainer.run();
  auto started = named_weights(*trainer.model());
  for (const auto& [name, tensor] : ema) EXPECT_TRUE(torch::allclose(started.at(name), tensor, 1e-5, 1e-6)) << name;

  // A file of another model is one clear error.
  auto wrong = file.tensors;
  wrong.erase("class_embed.weight");
  EXPECT_NE(error_of([&] { load_named_weights(*trainer.model(), wrong, "w.safetensors"); })
                .find("w.safetensors has no tensor class_embed.weight"), std::string::npos);
  wrong = file.tensors;
  wrong["extra"] = torch::zeros({1});
  EXPECT_NE(error_of([&] { load_named_weights(*trainer.model(), wrong, "w.safetensors"); }).find("extra"),
            std::string::npos);
  wrong = file.tensors;
  wrong["class_embed.weight"] = torch::zeros({2, 2});
  EXPECT_NE(error_of([&] { load_named_weights(*trainer.model(), wrong, "w.safetensors"); }).find("has shape"),
            std::string::npos);
}

// config.yaml and the checkpoint record what ran: every `auto` and derived default resolved, so
// the recorded config trains the same run whatever defaults the version that reads it has.
TEST(Checkpoint, TheRecordedConfigHoldsResolvedValuesAndTrainsTheSameRun) {
  TempDir first_dir, second_dir;
  auto data = tiny_dataset(8);
  auto config = tiny_config(first_dir.path());
  config.data.dataset = "mnist";  // auto: no flips (a mirrored digit is another glyph)
  config.data.data_dir = first_dir.path();  // named only: the trainer is handed the images
  config.data.random_flip = "auto";
  config.data.fit = "auto";
  config.training.steps = 3;
  auto method = make_method(config);
  Trainer first(config, data, *method);
  first.run();

  const auto text = read_file_text(first_dir / "config.yaml");
  Config recorded;
  apply_config_text(recorded, text);
  EXPECT_EQ(recorded.data.random_flip, "false") << text;
  EXPECT_EQ(recorded.data.fit, "resize");  // MNIST's choice below 28 pixels
  EXPECT_EQ(recorded.eval.sampler, config.sampling.sampler);
  EXPECT_EQ(recorded.eval.steps, config.sampling.steps);
  EXPECT_EQ(recorded.eval.cfg_scale, config.sampling.cfg_scale);
  EXPECT_EQ(recorded.eval.reference, "mnist-train");
  EXPECT_EQ(config_to_yaml(CheckpointReader(first_dir / "last.pt").config()), text);

  recorded.training.output_dir = second_dir.path();
  auto second_method = make_method(recorded);
  Trainer second(recorded, data, *second_method);
  second.run();
  auto p = first.model()->parameters(), q = second.model()->parameters();
  for (size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(torch::equal(p[i], q[i]));
}
