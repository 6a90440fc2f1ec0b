// The public API (flowlab/flowlab.h), called as a program that links the library calls it. The
// checkpoints and autoencoder files are made with the library's own parts; every check goes
// through the API.
#include <gtest/gtest.h>

#include <filesystem>

#include "flowlab/flowlab.h"
#include "flowlab/methods/registry.h"
#include "flowlab/recipe.h"
#include "flowlab/training/trainer.h"
#include "flowlab/training/training_run.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

// A CFM checkpoint of the tiny problem after a few steps: 4 classes of 3x8x8 images.
std::string tiny_checkpoint(const std::string& dir) {
  auto config = tiny_config(dir);
  config.training.steps = 3;
  config.training.batch_size = 8;
  config.sampling.steps = 4;
  auto data = tiny_dataset(2);
  auto method = make_method(config);
  Trainer(config, data, *method).run();
  return dir + "/last.pt";
}

}  // namespace

TEST(Api, GenerateIsTheModelsSizeRepeatableBySeedAndRefusesBadInputInOneLine) {
  TempDir dir;
  Model model(tiny_checkpoint(dir.path()));
  EXPECT_EQ(model.num_classes(), 4);
  EXPECT_EQ(model.channels(), 3);
  EXPECT_EQ(model.image_size(), 8);
  EXPECT_EQ(model.method(), "cfm");
  EXPECT_EQ(model.class_names(), (std::vector<std::string>{"half", "band", "checker", "corner"}));
  auto labels = torch::tensor({0, 1, 2, 3, 4}, torch::kInt64);  // 4: no class
  GenerateOptions options;
  options.seed = 3;
  auto a = model.generate(labels, options), b = model.generate(labels, options);
  EXPECT_EQ(a.scalar_type(), torch::kUInt8);
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{5, 3, 8, 8}));
  EXPECT_TRUE(torch::equal(a, b));
  options.seed = 4;
  EXPECT_FALSE(torch::equal(a, model.generate(labels, options)));
  // Given noise stands for the seed's: the same noise, the same images.
  options.noise = torch::randn({5, 3, 8, 8});
  options.sampler = "heun";
  options.steps = 2;
  EXPECT_TRUE(torch::equal(model.generate(labels, options), model.generate(labels, options)));

  auto message = [&](const torch::Tensor& l, const GenerateOptions& o) {
    try {
      model.generate(l, o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(torch::tensor({5}, torch::kInt64), {}).find("labels run from 0 to 4"), std::string::npos);
  EXPECT_NE(message(torch::tensor({0.0}), {}).find("labels must be int64"), std::string::npos);
  GenerateOptions bad;
  bad.sampler = "nope";
  EXPECT_NE(message(labels, bad).find("sampling.sampler"), std::string::npos);
  bad = {};
  bad.noise = torch::randn({2, 3, 8, 8});
  EXPECT_NE(message(labels, bad).find("the model samples float [5, 3, 8, 8]"), std::string::npos);
  // A bad call leaves the model as it was.
  options = {};
  options.seed = 3;
  EXPECT_TRUE(torch::equal(a, model.generate(labels, options)));
  EXPECT_THROW(Model(dir / "missing.pt"), Error);
}

TEST(Api, OpensMeanFlowDdpmAndLatentCheckpointsAlike) {
  TempDir dir;
  for (std::string method : {"meanflow", "ddpm"}) {
    auto config = for_method(method == "meanflow" ? tiny_meanflow_config(dir / method) : tiny_config(dir / method),
                             method, false);
    config.training.steps = 2;
    config.training.batch_size = 8;
    config.sampling.steps = 3;
    auto data = tiny_dataset(2);
    Trainer(config, data, *make_method(config)).run();
    Model model(dir / (method + "/last.pt"));
    EXPECT_EQ(model.method(), method);
    EXPECT_EQ(model.generate(torch::arange(4)).sizes(), (std::vector<int64_t>{4, 3, 8, 8})) << method;
  }
  // A model of a tiny autoencoder's 4x4 latents, trained through the programs' own path, makes
  // 8x8 images and inpaints them in its latent space.
  auto file = write_tiny_autoencoder(dir.path(), 8, 0.5);
  auto config = tiny_config(dir / "latent");
  config.data.dataset = "shapes";
  config.data.num_images = 6;
  config.data.image_size = 4;
  config.model.vae = file;
  config.model.attention_resolutions = {2};
  config.training.steps = 2;
  config.training.batch_size = 3;
  config.sampling.steps = 3;
  train(plan_training_run(config), make_method);
  Model latent(dir / "latent/last.pt");
  EXPECT_EQ(latent.image_size(), 8);
  EXPECT_EQ(latent.channels(), 3);
  auto images = latent.generate(torch::arange(2));
  ASSERT_EQ(images.sizes(), (std::vector<int64_t>{2, 3, 8, 8}));
  auto known = torch::ones({8, 8}, torch::kUInt8);
  known.slice(0, 2, 6).slice(1, 2, 6).zero_();
  auto filled = latent.inpaint(images, known, torch::arange(2));
  auto keep = known.to(torch::kBool).expand_as(images);
  EXPECT_TRUE(torch::equal(filled.masked_select(keep), images.masked_select(keep)));
}

TEST(Api, InpaintKeepsEveryKnownPixelAndChangesTheHole) {
  TempDir dir;
  Model model(tiny_checkpoint(dir.path()));
  auto images = torch::randint(0, 256, {3, 3, 8, 8}, torch::kInt64).to(torch::kUInt8);
  auto known = torch::ones({8, 8}, torch::kUInt8);
  known.slice(0, 2, 6).slice(1, 2, 6).zero_();
  auto labels = torch::tensor({0, 1, 4}, torch::kInt64);
  auto filled = model.inpaint(images, known, labels);
  ASSERT_EQ(filled.sizes(), images.sizes());
  auto keep = known.to(torch::kBool).expand_as(images);
  EXPECT_TRUE(torch::equal(filled.masked_select(keep), images.masked_select(keep)));
  EXPECT_FALSE(torch::equal(filled.masked_select(~keep), images.masked_select(~keep)));
  // One mask per image takes the same path.
  auto per_image = known.reshape({1, 1, 8, 8}).expand({3, 1, 8, 8}).contiguous();
  EXPECT_TRUE(torch::equal(model.inpaint(images, per_image, labels), filled));
  EXPECT_THROW(model.inpaint(images, torch::ones({4, 4}), labels), Error);
  EXPECT_THROW(model.inpaint(images.to(torch::kFloat32), known, labels), Error);
  EXPECT_THROW(model.inpaint(images, known, torch::tensor({0}, torch::kInt64)), Error);
}

TEST(Api, AutoencoderEncodesToScaledPosteriorMeansAndDecodesBack) {
  TempDir dir;
  auto file = write_tiny_autoencoder(dir.path(), 8, 0.5);
  Autoencoder vae(file);
  EXPECT_EQ(vae.downsampling(), 2);
  EXPECT_EQ(vae.latent_channels(), 4);
  auto images = torch::randint(0, 256, {2, 3, 8, 8}, torch::kInt64).to(torch::kUInt8);
  auto latents = vae.encode(images);
  EXPECT_EQ(latents.sizes(), (std::vector<int64_t>{2, 4, 4, 4}));
  EXPECT_TRUE(torch::equal(latents, vae.encode(images)));
  auto decoded = vae.decode(latents);
  EXPECT_EQ(decoded.scalar_type(), torch::kUInt8);
  EXPECT_EQ(decoded.sizes(), images.sizes());
  // The same weights at scaling factor 1: the scaled latents are half of these.
  std::filesystem::create_directory(dir / "other");
  Autoencoder unscaled(write_tiny_autoencoder(dir / "other", 8, 1.0));
  EXPECT_TRUE(torch::allclose(unscaled.encode(images) * 0.5, latents, 1e-5, 1e-6));
  EXPECT_THROW(vae.encode(torch::zeros({1, 3, 7, 7}, torch::kUInt8)), Error);
  EXPECT_THROW(vae.decode(torch::zeros({1, 3, 4, 4})), Error);
  EXPECT_THROW(Model(dir / "other/vae.safetensors"), Error);
}

TEST(Api, SavePngAndLoadImageRoundTripSingleImagesAndGrids) {
  TempDir dir;
  auto image = torch::randint(0, 256, {3, 5, 7}, torch::kInt64).to(torch::kUInt8);
  save_png(dir / "one.png", image);
  EXPECT_TRUE(torch::equal(load_image(dir / "one.png", 3), image));
  auto batch = torch::randint(0, 256, {4, 3, 5, 5}, torch::kInt64).to(torch::kUInt8);
  save_png(dir / "grid.png", batch, 2);
  auto grid = load_image(dir / "grid.png", 3);
  EXPECT_EQ(grid.sizes(), (std::vector<int64_t>{3, 2 * 7 + 2, 2 * 7 + 2}));  // 2-pixel padding
  EXPECT_TRUE(torch::equal(grid.slice(1, 2, 7).slice(2, 2, 7), batch[0]));
  EXPECT_THROW(save_png(dir / "bad.png", torch::zeros({2, 5, 5}, torch::kUInt8)), Error);
  EXPECT_THROW(load_image(dir / "missing.png", 3), Error);
  EXPECT_THROW(load_image(dir / "one.png", 2), Error);
}
