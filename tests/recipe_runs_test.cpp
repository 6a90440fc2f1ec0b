// Every shipped recipe, run for 3 steps by its own program on small files of its dataset's format
// (its network at a test size), finishes in seconds: a run that reached no sample_every interval draws no final grid (a 3-step
// DiT-S/2 smoke run once spent a quarter of an hour on one) and runs no final evaluation.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "flowlab/config.h"
#include "flowlab/io/image.h"
#include "dataset_files.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

std::vector<std::string> shipped_recipes() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(FLOWLAB_CONFIGS_DIR))
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

// --data_dir (and for a latent recipe, --set model.vae) pointing at small files of the recipe's
// dataset format under `dir`.
std::string small_data_flags(const Config& recipe, const std::string& dir) {
  const auto data = dir + "/data";
  std::filesystem::create_directories(data);
  const auto& dataset = recipe.data.dataset;
  if (dataset == "cifar10") {
    write_cifar_dir(data, 2);
  } else if (dataset == "mnist") {
    write_bytes(data + "/train-images-idx3-ubyte", idx_images(10, 28, 28));
    write_bytes(data + "/train-labels-idx1-ubyte", idx_labels({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  } else if (dataset == "folder") {
    // The 2x tiny autoencoder in place of the recipe's 8x one: images at twice the latent grid.
    const int side = recipe.data.image_size * 2;
    for (int i = 0; i < 4; ++i)
      write_png(data + "/" + std::to_string(i) + ".png",
                float_to_uint8(torch::rand({3, side, side}) * 2 - 1));
    return " --data_dir " + data + " --set model.vae=" + write_tiny_autoencoder(dir, side);
  } else {
    return "";  // built in (shapes)
  }
  return " --data_dir " + data;
}

// The recipe's network at a test size: what decides a final grid or evaluation is the run's length,
// not its width (the paper-sized MeanFlow U-Net alone took 86 s for its 3 steps and their files).
std::string small_network_flags(const Config& recipe) {
  const auto& m = recipe.model;
  if (m.type == "tiny_unet" || m.type == "tiny_unet_meanflow") return " --set model.base_channels=16";
  if (m.type == "dit" && m.hidden_size > 0)
    return " --set model.hidden_size=64 --set model.depth=2 --set model.num_heads=4";
  if (m.type == "dit") return " --variant DiT-T/2";
  return "";
}

class ShippedRecipe : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(ShippedRecipe, ThreeStepsEndWithoutAFinalGridOrEvaluation) {
  const auto path = std::string(FLOWLAB_CONFIGS_DIR) + "/" + GetParam() + ".yaml";
  Config recipe;
  apply_config_file(recipe, path);
  TempDir dir;
  const auto out = dir / "out";
  const auto command = app("train_" + recipe.method.name) + " --config " + path + small_data_flags(recipe, dir.path()) +
                       small_network_flags(recipe) + " --steps 3 --batch_size 4 --threads 1 --output_dir " + out;
  auto start = std::chrono::steady_clock::now();
  auto run = run_command(command);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(run.exit_code, 0) << command << "\n" << run.output;
  EXPECT_TRUE(std::filesystem::exists(out + "/last.pt"));
  EXPECT_TRUE(std::filesystem::exists(out + "/weights_ema.pt"));
  EXPECT_FALSE(std::filesystem::exists(out + "/samples/final.png")) << run.output;
  EXPECT_EQ(run.output.find("sample grid"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("FID"), std::string::npos) << run.output;
  // A guard against a hang, not a speed claim: these runs take seconds.
  EXPECT_LT(seconds, 90) << command;
}

INSTANTIATE_TEST_SUITE_P(Recipes, ShippedRecipe, ::testing::ValuesIn(shipped_recipes()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });
