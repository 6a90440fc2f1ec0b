// Training in an autoencoder's latent space: sampling from the stored posterior, a model trained
// on the latents of a tiny autoencoder that, once decoded, draws the requested class, and images
// encoded at the start of training (on-the-fly latents), and inpainting in latent space.
#include <gtest/gtest.h>

#include "flowlab/data/dataset.h"
#include "flowlab/data/shapes.h"
#include "flowlab/io/files.h"
#include "flowlab/io/image.h"
#include "flowlab/io/sha256.h"
#include "flowlab/methods/registry.h"
#include "flowlab/recipe.h"
#include "flowlab/tasks/encode_latents.h"
#include "flowlab/tasks/inpainting.h"
#include "flowlab/tasks/masks.h"
#include "flowlab/training/autoencoder_file.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/latent_codec.h"
#include "flowlab/training/trainer.h"
#include "flowlab/training/training_data.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

TEST(LatentTraining, SamplesFromTheStoredPosteriorHaveItsMeanAndStdInTheModelsScale) {
  // Two 1x1x2 posteriors, and the mirrored images' posteriors.
  Dataset d;
  d.images = torch::tensor({1.0f, -2.0f, 0.5f, 3.0f}).reshape({2, 1, 1, 2});
  d.latent_std = torch::tensor({0.5f, 2.0f, 1.0f, 0.25f}).reshape({2, 1, 1, 2});
  d.flip_mean = torch::tensor({-1.0f, 4.0f, 0.0f, 0.0f}).reshape({2, 1, 1, 2});
  d.flip_std = torch::tensor({1.5f, 0.1f, 1.0f, 1.0f}).reshape({2, 1, 1, 2});
  d.labels = torch::tensor({0, 1}, torch::kInt64);
  d.autoencoder.scaling_factor = 0.5;
  d.autoencoder.shift_factor = 1.0;
  const int64_t n = 40000;
  auto rows = torch::zeros({n}, torch::kInt64);  // row 0 again and again
  torch::manual_seed(0);
  StepRandom rng;
  auto plain = d.sample_latents(rows, torch::Tensor(), rng).images.reshape({n, 2});
  auto mirrored = d.sample_latents(rows, torch::ones({n}, torch::kBool), rng).images.reshape({n, 2});
  // (z - shift) * scale has mean (m - 1) * 0.5 and std s * 0.5. The sample mean's standard error
  // is std / sqrt(n) <= 0.005 here; allow 5 of them. The sample std is within 2% at this n.
  auto expect = [&](const torch::Tensor& z, std::vector<double> m, std::vector<double> s) {
    for (int64_t k = 0; k < 2; ++k) {
      double mean = (m[k] - 1.0) * 0.5, std = s[k] * 0.5;
      EXPECT_NEAR(z.select(1, k).mean().item<double>(), mean, 5 * std / std::sqrt(double(n))) << k;
      EXPECT_NEAR(z.select(1, k).std().item<double>(), std, 0.02 * std) << k;
    }
  };
  expect(plain, {1.0, -2.0}, {0.5, 2.0});
  expect(mirrored, {-1.0, 4.0}, {1.5, 0.1});
  // batch(): the means in the model's scale, no noise.
  EXPECT_TRUE(torch::allclose(d.batch(torch::tensor({1}, torch::kInt64)).images,
                              torch::tensor({-0.25f, 1.0f}).reshape({1, 1, 1, 2})));
  // Without encoded flips, random_flip true is refused and auto does not flip.
  d.flip_mean = d.flip_std = torch::Tensor();
  DataConfig config;
  config.dataset = "latents";
  config.random_flip = "true";
  EXPECT_NE(error_of([&] { random_flip_enabled(config, d); }).find("encoded without --flips"), std::string::npos);
  config.random_flip = "auto";
  EXPECT_FALSE(random_flip_enabled(config, d));
}

namespace {

// A tiny autoencoder trained on the four class images (8x8 -> 4x4x4), saved in dir/vae/last.pt.
std::string train_tiny_autoencoder(const TempDir& dir, const Dataset& data) {
  auto config = tiny_config(dir / "vae");
  config.vae.ch = 16;
  config.vae.ch_mult = {1, 2};
  config.vae.num_res_blocks = 1;
  config.vae.norm_groups = 8;
  config.training.steps = 300;
  config.training.ema_decay = 0.9;
  config = for_method(config, "vae", false);
  fit_model_to_data(config, data);
  auto method = make_method(config);
  torch::manual_seed(0);
  Trainer(config, data, *method).run();
  return dir / "vae/last.pt";
}

// The four class images (64 copies) through that autoencoder, encoded with --normalize into
// dir/latents, and read back as a training set.
struct TinyLatents {
  std::string vae_path, dir;  // the autoencoder, the latent dataset's directory
  Dataset pixels, latents;
};

TinyLatents encode_tiny_latents(const TempDir& dir) {
  TinyLatents out;
  out.pixels = tiny_dataset(64);
  out.vae_path = train_tiny_autoencoder(dir, out.pixels);
  auto vae = load_autoencoder(out.vae_path, 3);
  EncodeLatentsOptions encode;
  encode.normalize = true;
  AutoencoderIdentity identity{out.vae_path, sha256_file(out.vae_path), 1.0, 0.0};
  encode_latents(*vae, identity, out.pixels, {"tiny", "train", "resize", 8}, encode, dir / "latents", torch::kCPU);
  out.dir = dir / "latents";
  DataConfig data;
  data.dataset = "latents";
  data.data_dir = out.dir;
  out.latents = load_dataset(data);
  return out;
}

// `config` (tiny_config or tiny_meanflow_config) trained `steps` on the latents; its samples for
// class_check_labels() from noise seeded 123, decoded through the autoencoder its checkpoint
// records, and the per-pixel MSE of each to each class image: (16, 4).
torch::Tensor decoded_class_distances(Config config, const TinyLatents& tiny, int64_t steps) {
  config.data.dataset = "latents";
  config.data.data_dir = tiny.dir;
  config.data.random_flip = "auto";
  config.training.steps = steps;
  auto method = make_method(config);
  torch::manual_seed(0);
  Trainer trainer(config, tiny.latents, *method);
  trainer.run();
  auto trained = CheckpointReader(config.training.output_dir + "/last.pt").config();
  EXPECT_EQ(trained.model.vae, tiny.vae_path);
  EXPECT_EQ(trained.data.image_size, 4);
  LatentCodec decoder(trained.model, torch::kCPU);
  torch::manual_seed(123);
  auto samples = method->sample(*trainer.ema_model(), torch::randn({16, 4, 4, 4}), class_check_labels(),
                                config.sampling).x;
  auto images = decoder.decode(samples).clamp(-1, 1);
  return (images.unsqueeze(1) - class_images().unsqueeze(0)).pow(2).mean({2, 3, 4});
}

}  // namespace

TEST(LatentTraining, CfmOnATinyAutoencodersLatentsDecodesToTheRequestedClass) {
  TempDir dir;
  auto tiny = encode_tiny_latents(dir);
  const auto& latents = tiny.latents;
  ASSERT_EQ(latents.channels(), 4);
  ASSERT_EQ(latents.height(), 4);
  EXPECT_GT(std::abs(latents.autoencoder.shift_factor), 1e-3);  // normalised: a real shift and scale
  EXPECT_NE(latents.autoencoder.scaling_factor, 1.0);
  {
    // The stored means in the model's scale decode to the autoencoder's own reconstructions.
    auto vae = load_autoencoder(tiny.vae_path, 3);
    auto rows = torch::arange(4, torch::kInt64);
    torch::NoGradGuard no_grad;
    auto decoded = LatentCodec(latents.autoencoder, torch::kCPU).decode(latents.batch(rows).images);
    EXPECT_LT((decoded - vae->reconstruct(tiny.pixels.batch(rows).images)).abs().max().item<double>(), 1e-4);
  }
  auto labels = class_check_labels();
  auto trained = decoded_class_distances(tiny_config(dir / "cfm"), tiny, 400);
  EXPECT_TRUE(torch::equal(trained.argmin(1), labels)) << trained;
  EXPECT_LT(trained.gather(1, labels.unsqueeze(1)).max().item<double>(), 0.1) << trained;
  // A moved autoencoder or another file are refused; --allow_vae_mismatch takes another file.
  auto recorded = CheckpointReader(dir / "cfm/last.pt").config().model;
  auto moved = recorded;
  moved.vae = dir / "nowhere.pt";
  EXPECT_NE(error_of([&] { LatentCodec(moved, torch::kCPU); }).find("give its new place with --vae FILE"),
            std::string::npos);
  auto other = recorded;
  other.vae_sha256 = "0000";
  EXPECT_NE(error_of([&] { LatentCodec(other, torch::kCPU); }).find("--allow_vae_mismatch"), std::string::npos);
  EXPECT_TRUE(LatentCodec(other, torch::kCPU, tiny.vae_path, true).active());
  // Samples of another channel count than the autoencoder's latents are refused.
  auto message = error_of([&] { LatentCodec(recorded, torch::kCPU).decode(torch::zeros({1, 3, 4, 4})); });
  EXPECT_NE(message.find("have 3 channels; the autoencoder's latents have 4"), std::string::npos) << message;
  // evaluate_fid scores the decoded 8x8 samples, not the 4x4 latents.
  ensure_directory(dir / "real");
  for (int64_t k = 0; k < 4; ++k)
    write_png(dir / ("real/" + std::to_string(k) + ".png"), float_to_uint8(class_images()[k]));
  auto fid = spawn({app("evaluate_fid"), "--checkpoint", dir / "cfm/last.pt", "--random_weights", "--num_samples", "8",
                    "--batch_size", "8", "--steps", "2", "--threads", "1", "--reference", dir / "real", "--output",
                    dir / "fid.json"},
                   dir / "fid.log");
  ASSERT_EQ(wait_exit_code(fid), 0) << read_file_text(dir / "fid.log");
  EXPECT_NE(read_file_text(dir / "fid.json").find("\"image_size\": 8"), std::string::npos) << read_file_text(dir / "fid.json");
  // The same check fails for a model trained one step.
  auto untrained = decoded_class_distances(tiny_config(dir / "cfm1"), tiny, 1);
  EXPECT_FALSE(torch::equal(untrained.argmin(1), labels) &&
               untrained.gather(1, labels.unsqueeze(1)).max().item<double>() < 0.1);
}

TEST(LatentTraining, MeanFlowOnATinyAutoencodersLatentsDecodesToTheRequestedClassInOneStep) {
  TempDir dir;
  auto tiny = encode_tiny_latents(dir);
  auto config = tiny_meanflow_config(dir / "meanflow");
  auto labels = class_check_labels();
  auto trained = decoded_class_distances(config, tiny, 400);
  EXPECT_TRUE(torch::equal(trained.argmin(1), labels)) << trained;
  // One network evaluation: the pixel-space test's bound, under half the smallest distance
  // between two class images (0.96).
  EXPECT_LT(trained.gather(1, labels.unsqueeze(1)).max().item<double>(), 0.4) << trained;
  auto untrained = decoded_class_distances(tiny_meanflow_config(dir / "meanflow1"), tiny, 1);
  EXPECT_FALSE(torch::equal(untrained.argmin(1), labels) &&
               untrained.gather(1, labels.unsqueeze(1)).max().item<double>() < 0.4);
}

TEST(LatentTraining, OnTheFlyLatentsAreTheImagesEncodedOnceWithTheirMirrors) {
  TempDir dir;
  const auto file = write_tiny_autoencoder(dir.path(), 8, 0.5);  // 8x8 images -> 4x4x4 latents

  // data.image_size is the latent grid: shapes are drawn at 8x8 and encoded with their mirrors.
  auto config = tiny_config(dir / "run");
  config.data.dataset = "shapes";
  config.data.num_images = 6;
  config.data.image_size = 4;
  config.training.batch_size = 3;
  config.data.random_flip = "auto";
  config.model.vae = file;
  auto data = load_training_data(config, torch::kCPU);
  ASSERT_TRUE(data.is_latent());
  ASSERT_EQ(data.images.sizes(), (std::vector<int64_t>{6, 4, 4, 4}));
  auto vae = load_autoencoder(file);
  auto expected = encode_rows(*vae, make_shapes(6, 8, 0), 0, 6, 6, true, torch::kCPU);
  EXPECT_TRUE(torch::allclose(data.images, expected.mean, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(data.latent_std, expected.std, 1e-5, 1e-6));
  ASSERT_TRUE(data.flip_mean.defined());
  EXPECT_TRUE(torch::allclose(data.flip_mean, expected.flip_mean, 1e-5, 1e-6));
  EXPECT_EQ(data.autoencoder.sha256, sha256_file(file));
  EXPECT_EQ(data.autoencoder.scaling_factor, 0.5);  // the autoencoder's own factors
  config.data.random_flip = "false";
  EXPECT_FALSE(load_training_data(config, torch::kCPU).flip_mean.defined());
  // A run that recorded another autoencoder does not go on with this one.
  config.model.vae_sha256 = "0000";
  auto message = error_of([&] { load_training_data(config, torch::kCPU); });
  EXPECT_NE(message.find("goes on with the autoencoder it began with"), std::string::npos) << message;

  // train_cfm records the autoencoder, resumes through it, and generate_samples decodes to 8x8.
  config.model.vae_sha256 = "";
  config.data.random_flip = "auto";
  write_text(dir / "run.yaml", config_to_yaml(config));
  auto train = [&](const std::string& steps, bool resume) {
    std::vector<std::string> args{app("train_cfm"), "--config", dir / "run.yaml", "--steps", steps};
    if (resume) args.push_back("--resume");
    return wait_exit_code(spawn(args, dir / "train.log"));
  };
  ASSERT_EQ(train("2", false), 0) << read_file_text(dir / "train.log");
  auto recorded = CheckpointReader(dir / "run/last.pt").config();
  EXPECT_EQ(recorded.model.vae_sha256, sha256_file(file));
  EXPECT_EQ(recorded.model.vae_scaling_factor, 0.5);
  EXPECT_EQ(recorded.data.dataset, "shapes");
  EXPECT_EQ(recorded.data.image_size, 4);
  ASSERT_EQ(train("3", true), 0) << read_file_text(dir / "train.log");
  // The model cannot change its input: a resume at another latent grid is one line, and the
  // checkpoint stays as it was.
  auto before = read_file_text(dir / "run/last.pt");
  auto regrid = wait_exit_code(spawn({app("train_cfm"), "--config", dir / "run.yaml", "--steps", "4", "--resume",
                                      "--set", "data.image_size=8"},
                                     dir / "regrid.log"));
  EXPECT_NE(regrid, 0);
  EXPECT_NE(read_file_text(dir / "regrid.log").find("the model takes 4x4x4 inputs; latents of shapes holds 4x8x8"),
            std::string::npos)
      << read_file_text(dir / "regrid.log");
  EXPECT_EQ(read_file_text(dir / "run/last.pt"), before);
  auto generate = spawn({app("generate_samples"), "--checkpoint", dir / "run/last.pt", "--num_samples", "2",
                         "--steps", "2", "--threads", "1", "--save_individual", "--output_dir", dir / "samples"},
                        dir / "generate.log");
  ASSERT_EQ(wait_exit_code(generate), 0) << read_file_text(dir / "generate.log");
  EXPECT_EQ(read_image(dir / "samples/images/00000.png", 3).sizes(), (std::vector<int64_t>{3, 8, 8}));
  // inpaint takes the latent model's 8x8 images from the dataset it was trained on.
  auto inpaint = spawn({app("inpaint"), "evaluate", "--checkpoint", dir / "run/last.pt", "--num_samples", "2",
                        "--steps", "2", "--mask_type", "center", "--threads", "1", "--output", dir / "inpaint.json"},
                       dir / "inpaint.log");
  ASSERT_EQ(wait_exit_code(inpaint), 0) << read_file_text(dir / "inpaint.log");
  EXPECT_NE(read_file_text(dir / "inpaint.json").find("\"num_images\": 2"), std::string::npos);
  // inpaint finetune trains on the same encoded latents.
  auto finetune = spawn({app("inpaint"), "finetune", "--pretrained", dir / "run/last.pt", "--steps", "1",
                         "--batch_size", "3", "--threads", "1", "--output_dir", dir / "finetuned"},
                        dir / "finetune.log");
  ASSERT_EQ(wait_exit_code(finetune), 0) << read_file_text(dir / "finetune.log");
  EXPECT_EQ(CheckpointReader(dir / "finetuned/last.pt").config().model.vae_sha256, sha256_file(file));
}

TEST(LatentTraining, LatentInpaintingKeepsEveryKnownPixelAndFillsTheHole) {
  TempDir dir;
  auto tiny = encode_tiny_latents(dir);
  LatentCodec codec(tiny.latents.autoencoder, torch::kCPU);
  auto config = tiny_config(dir / "cfm");
  config.model.in_channels = 4;
  config.data.image_size = 4;
  torch::manual_seed(0);
  auto model = make_backbone(config);
  model->eval();
  auto method = make_method(config);
  auto images = float_to_uint8(class_images());  // (4, 3, 8, 8)
  auto labels = torch::arange(4, torch::kInt64);
  config.sampling.steps = 4;
  for (const std::string type : {"center", "half", "irregular"}) {
    auto run = run_inpainting(*method, *model, images, labels, type, "noised", config.sampling, 7, torch::kCPU, codec);
    ASSERT_EQ(run.inpainted.sizes(), run.original.sizes()) << type;
    auto known = run.masks.expand_as(run.original) > 0.5;
    EXPECT_TRUE(torch::equal(run.inpainted.masked_select(known), run.original.masked_select(known))) << type;
    // An untrained model's hole is not the original.
    EXPECT_GT((run.inpainted - run.original).abs().masked_select(~known).mean().item<double>(), 0.05) << type;
  }
}
