// TinyUNet and DiT against their PyTorch mirrors (scripts/pytorch/flowlab_models.py) with the same hashed
// weights: tests/fixtures/model_golden.npz, written by scripts/fixtures/make_model_fixtures.py.
#include <gtest/gtest.h>

#include <cmath>

#include "flowlab/hashed_uniform.h"
#include "flowlab/io/npz.h"
#include "flowlab/models/autoencoder_kl.h"
#include "flowlab/models/dit.h"
#include "flowlab/models/tiny_unet.h"

using namespace flowlab;

namespace {

// As scripts/fixtures/make_model_fixtures.py: hashed_uniform(numel, name_key(name)), scaled by
// sqrt(3 / fan_in) for matrices and kernels and by 0.1 for vectors.
int64_t name_key(const std::string& name) {
  int64_t key = 0;
  for (size_t i = 0; i < name.size(); ++i) key += static_cast<int64_t>(i + 1) * name[i];
  return key % 1000003;
}

void set_hashed_weights(Network& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.named_parameters()) {
    auto& w = p.value();
    auto u = hashed_uniform(w.numel(), name_key(p.key())).reshape(w.sizes());
    double scale = w.dim() >= 2 ? std::sqrt(3.0 / static_cast<double>(w.numel() / w.size(0))) : 0.1;
    w.copy_(u * scale);
  }
  model.eval();
}

std::map<std::string, torch::Tensor> golden() {
  return read_npz(std::string(FLOWLAB_FIXTURES_DIR) + "/model_golden.npz");
}

TinyUNetOptions unet_options(const std::string& time_pair) {
  TinyUNetOptions o;
  o.image_size = 8;
  o.base_channels = 16;
  o.channel_mults = {1, 2};
  o.num_res_blocks = 1;
  o.time_embed_dim = 32;
  o.num_classes = 4;
  o.dropout = 0.0;
  o.attention_resolutions = {4};
  o.num_heads = 2;
  o.time_pair = time_pair;
  return o;
}

DiTOptions dit_test_options(const std::string& time_pair) {
  auto o = dit_options(find_dit_size("DiT-T/2"));
  o.image_size = 8;
  o.num_classes = 4;
  o.time_pair = time_pair;
  return o;
}

void expect_close(const torch::Tensor& out, const torch::Tensor& expected, const std::string& what) {
  ASSERT_EQ(out.sizes(), expected.sizes()) << what;
  EXPECT_LT((out - expected).abs().max().item<double>(), 1e-5) << what;
  EXPECT_GT(expected.abs().max().item<double>(), 0.1) << what;  // not a trivial zero output
}

}  // namespace

TEST(GoldenModels, TinyUNetMatchesThePyTorchMirror) {
  auto g = golden();
  auto x = g["x"], t = g["t"], r = g["r"], y = g["y"].to(torch::kInt64);
  TinyUNet one(unet_options(""));
  set_hashed_weights(one);
  expect_close(one.forward(x, t, y), g["tiny_unet"], "tiny_unet");
  TinyUNet two(unet_options("t,t-r"));
  set_hashed_weights(two);
  expect_close(interval_of(two).forward_interval(x, r, t, y), g["tiny_unet_interval"], "tiny_unet_meanflow");
}

TEST(GoldenModels, DiTMatchesThePyTorchMirror) {
  auto g = golden();
  auto x = g["x"], t = g["t"], r = g["r"], y = g["y"].to(torch::kInt64);
  DiT one(dit_test_options(""));
  set_hashed_weights(one);
  expect_close(one.forward(x, t, y), g["dit"], "dit");
  DiT two(dit_test_options("t,t-r"));
  set_hashed_weights(two);
  expect_close(interval_of(two).forward_interval(x, r, t, y), g["dit_interval"], "dit two-time");
}

TEST(GoldenModels, AutoencoderKLMatchesThePyTorchMirror) {
  auto g = golden();
  AutoencoderKLOptions o;
  o.block_out_channels = {32, 64};
  o.layers_per_block = 1;
  o.norm_groups = 8;
  AutoencoderKL vae(o);
  set_hashed_weights(vae);
  auto posterior = vae.encode(g["x"]);
  auto decoded = vae.decode(posterior.mean);
  for (auto [out, name] : {std::pair{posterior.mean, "vae_mean"}, std::pair{posterior.logvar, "vae_logvar"},
                           std::pair{decoded, "vae_decoded"}}) {
    ASSERT_EQ(out.sizes(), g[name].sizes()) << name;
    EXPECT_LT((out - g[name]).abs().max().item<double>(), 1e-4) << name;
    EXPECT_GT(g[name].abs().max().item<double>(), 0.05) << name;
  }
}
