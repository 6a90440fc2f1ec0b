// The autoencoder's objective (method vae): the loss's terms against their closed forms, the
// perceptual term through a TorchScript module, and the PatchGAN switched on at disc_start,
// trained after each step and kept in the method's checkpointed state.
#include <gtest/gtest.h>

#include <torch/script.h>

#include "flowlab/methods/mixed_precision.h"
#include "flowlab/methods/vae.h"
#include "flowlab/models/autoencoder_kl.h"
#include "test_helpers.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

VaeConfig tiny_vae() {
  VaeConfig v;
  v.ch = 8;
  v.ch_mult = {1, 2};
  v.num_res_blocks = 1;
  v.norm_groups = 4;
  v.kl_weight = 0.01;
  v.disc_layers = 1;
  v.disc_channels = 8;
  return v;
}

AutoencoderKLOptions options_of(const VaeConfig& v) {
  AutoencoderKLOptions o;
  o.block_out_channels = {8, 16};
  o.layers_per_block = v.num_res_blocks;
  o.norm_groups = v.norm_groups;
  return o;
}

}  // namespace

TEST(VaeMethod, LossIsThePixelSumOfL1PlusTheWeightedKlPlusThePerceptualTerm) {
  TempDir dir;
  torch::jit::Module identity("features");  // features = the images themselves
  identity.define("def forward(self, x):\n    return x * 1.0\n");
  identity.save(dir / "identity.pt");
  auto config = tiny_vae();
  torch::manual_seed(0);
  AutoencoderKL vae(options_of(config));
  auto x = torch::rand({3, 3, 8, 8}) * 2 - 1;
  StepRandom rng;

  VaeMethod plain(config, 3, 1e-3, 0.9, 0.999);
  torch::manual_seed(7);
  auto out = plain.loss(vae, x, torch::zeros({3}, torch::kInt64), rng);
  // The same draw by hand: z = mean + std * eps.
  torch::manual_seed(7);
  auto posterior = vae.encode(x);
  auto rec = vae.decode(posterior.mean + posterior.std() * torch::randn_like(posterior.mean));
  auto l1 = (x - rec).abs().sum({1, 2, 3}).mean();
  auto kl = (0.5 * (posterior.mean.pow(2) + posterior.logvar.exp() - 1 - posterior.logvar).sum({1, 2, 3})).mean();
  EXPECT_NEAR(out.loss.item<double>(), (l1 + 0.01 * kl).item<double>(), 1e-3);
  EXPECT_NEAR(out.metrics["l1"].item<double>(), (x - rec).abs().mean().item<double>(), 1e-6);

  config.perceptual = dir / "identity.pt";
  config.perceptual_weight = 2.0;
  VaeMethod perceptual(config, 3, 1e-3, 0.9, 0.999);
  torch::manual_seed(7);
  auto with = perceptual.loss(vae, x, torch::zeros({3}, torch::kInt64), rng);
  // + weight * C*H*W * mean squared feature difference, per image, averaged.
  double term = 2.0 * 192 * (x - rec).pow(2).flatten(1).mean(1).mean().item<double>();
  EXPECT_NEAR(with.loss.item<double>() - out.loss.item<double>(), term, 1e-2 * term);

  config.perceptual = dir / "missing.pt";
  EXPECT_NE(error_of([&] { VaeMethod bad(config, 3, 1e-3, 0.9, 0.999); }).find("not a TorchScript module"),
            std::string::npos);
}

TEST(VaeMethod, TheDiscriminatorJoinsAtDiscStartTrainsAfterEachStepAndIsCheckpointed) {
  auto config = tiny_vae();
  config.disc_weight = 0.5;
  config.disc_start = 2;
  torch::manual_seed(0);
  AutoencoderKL vae(options_of(config));
  auto x = torch::rand({4, 3, 8, 8}) * 2 - 1;
  auto y = torch::zeros({4}, torch::kInt64);
  StepRandom rng;
  VaeMethod method(config, 3, 1e-3, 0.9, 0.999);
  for (int step = 0; step < 2; ++step) {
    auto out = method.loss(vae, x, y, rng);
    EXPECT_FALSE(out.metrics.count("g_loss")) << step;  // before disc_start
    method.after_step();
  }
  torch::manual_seed(3);
  auto on = method.loss(vae, x, y, rng);
  ASSERT_TRUE(on.metrics.count("g_loss"));
  EXPECT_GT(on.metrics["d_weight"].item<double>(), 0.0);
  EXPECT_LE(on.metrics["d_weight"].item<double>(), 0.5 * 1e4);
  method.after_step();  // D's first update
  torch::manual_seed(3);
  auto after = method.loss(vae, x, y, rng);
  EXPECT_NE(after.metrics["g_loss"].item<double>(), on.metrics["g_loss"].item<double>());  // D moved

  // Its state (step count, D and D's optimizer) round-trips: a restored method gives D's output.
  torch::serialize::OutputArchive saved;
  method.save_state(saved);
  std::ostringstream bytes;
  saved.save_to(bytes);
  std::istringstream in(bytes.str());
  torch::serialize::InputArchive loaded;
  loaded.load_from(in);
  VaeMethod restored(config, 3, 1e-3, 0.9, 0.999);
  restored.load_state(loaded);
  torch::manual_seed(3);
  auto again = restored.loss(vae, x, y, rng);
  ASSERT_TRUE(again.metrics.count("g_loss"));  // its step count is past disc_start too
  EXPECT_NEAR(again.metrics["g_loss"].item<double>(), after.metrics["g_loss"].item<double>(), 1e-6);
}

// Under compute.precision bf16 the method is wrapped (methods/mixed_precision.h); the wrapper
// must pass on the discriminator's step, its checkpointed state and the training grid's
// reconstructions, or a bf16 run never trains D and its first grid fails. The autoencoder itself
// must run under CPU autocast (its GroupNorms take bf16 activations).
TEST(VaeMethod, TheBf16WrapperPassesOnTheDiscriminatorStepStateAndReconstructions) {
  auto config = tiny_vae();
  config.disc_weight = 0.5;
  config.disc_start = 0;
  torch::manual_seed(0);
  AutoencoderKL vae(options_of(config));
  auto x = torch::rand({4, 3, 8, 8}) * 2 - 1;
  auto y = torch::zeros({4}, torch::kInt64);
  StepRandom rng;
  MixedPrecisionMethod wrapped(std::make_unique<VaeMethod>(config, 3, 1e-3, 0.9, 0.999), c10::DeviceType::CPU);
  EXPECT_TRUE(wrapped.has_state());
  torch::manual_seed(3);
  auto before = wrapped.loss(vae, x, y, rng);
  wrapped.after_step();  // D's first update, through the wrapper
  torch::manual_seed(3);
  auto after = wrapped.loss(vae, x, y, rng);
  EXPECT_NE(after.metrics["g_loss"].item<double>(), before.metrics["g_loss"].item<double>());
  {
    torch::NoGradGuard no_grad;
    auto rec = wrapped.reconstruct(vae, x);
    ASSERT_TRUE(rec.defined());
    EXPECT_EQ(rec.sizes(), x.sizes());
  }
  torch::serialize::OutputArchive saved;
  wrapped.save_state(saved);
  std::ostringstream bytes;
  saved.save_to(bytes);
  EXPECT_NE(bytes.str().find("step"), std::string::npos);
}
