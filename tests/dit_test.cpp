// DiT: closed-form parameter counts, adaLN-Zero output at init, patchify round trip, the
// MeanFlow JVP through the transformer, and CFM convergence on tiny images.
#include <gtest/gtest.h>

#include "flowlab/methods/meanflow.h"
#include "flowlab/methods/registry.h"
#include "flowlab/models/dit.h"
#include "flowlab/recipe.h"
#include "flowlab/training/trainer.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

// Parameters of a DiT with width D, depth L, patch p, C channels, K classes (+1 null row),
// F sinusoidal frequencies and `time_embedders` time MLPs; LayerNorms have no parameters and
// the position embedding is a fixed buffer.
int64_t dit_closed_form(int64_t D, int64_t L, int64_t p, int64_t C, int64_t K, int64_t F,
                        int64_t time_embedders) {
  int64_t patch = p * p * C;
  int64_t embed = (patch * D + D) + time_embedders * (F * D + D + D * D + D) + (K + 1) * D;
  int64_t block = (D * 6 * D + 6 * D)      // adaLN modulation
                  + (D * 3 * D + 3 * D)    // qkv
                  + (D * D + D)            // attention projection
                  + (D * 4 * D + 4 * D)    // MLP fc1
                  + (4 * D * D + D);       // MLP fc2
  int64_t final_layer = (D * 2 * D + 2 * D) + (D * patch + patch);
  return embed + L * block + final_layer;
}

BackbonePtr dit(const std::string& variant, const std::string& method = "cfm", int image_size = 32) {
  Config c;
  c.model.type = "dit";
  c.model.variant = variant;
  c.method.name = method;
  c.data.image_size = image_size;
  return make_backbone(c);
}

}  // namespace

TEST(DiT, NamedSizesHaveTheClosedFormParameterCount) {
  for (const char* name : {"DiT-T/2", "DiT-S/2", "DiT-S/4", "DiT-B/2", "DiT-B/4"}) {
    const auto& s = find_dit_size(name);
    EXPECT_EQ(dit(name)->parameter_count(),
              dit_closed_form(s.hidden_size, s.depth, s.patch_size, 3, 10, 256, 1))
        << name;
  }
  // Known sizes: S = 12 x 384 x 6 heads, B = 12 x 768 x 12 heads.
  EXPECT_EQ(find_dit_size("DiT-S/2").hidden_size, 384);
  EXPECT_EQ(find_dit_size("DiT-B/4").depth, 12);
  EXPECT_EQ(find_dit_size("DiT-B/4").num_heads, 12);
  // MeanFlow's DiT adds a second time embedder for t - r.
  const auto& s = find_dit_size("DiT-S/2");
  EXPECT_EQ(dit("DiT-S/2", "meanflow")->parameter_count(),
            dit_closed_form(s.hidden_size, s.depth, s.patch_size, 3, 10, 256, 2));
  EXPECT_EQ(dit_closed_form(384, 12, 2, 3, 10, 256, 1), 32'475'660);  // docs/backbones.md's figure
}

TEST(DiT, ASizeWithoutANameComesFromWidthDepthHeadsAndPatch) {
  // The latent DiT of configs/dit_latent_celebahq256.yaml: 32x32x4 latents, width 512, 8 blocks, 16 heads, patch 2,
  // unconditional, published as "38.75M parameters".
  Config c;
  c.model.type = "dit";
  c.model.hidden_size = 512;
  c.model.depth = 8;
  c.model.num_heads = 16;
  c.model.in_channels = 4;
  c.model.num_classes = 0;
  EXPECT_NO_THROW(validate(c));
  auto model = make_backbone(c);
  const auto& o = dynamic_cast<DiT&>(*model).options();
  EXPECT_EQ(o.num_heads, 16);
  EXPECT_EQ(o.patch_size, 2);  // the default patch
  EXPECT_EQ(model->parameter_count(), dit_closed_form(512, 8, 2, 4, 0, 256, 1));
  EXPECT_EQ(model->parameter_count(), 38'747'152);  // 38.75M

  auto both = c;
  both.model.variant = "DiT-S/2";
  EXPECT_NE(error_of([&] { validate(both); }).find("set one of the two"), std::string::npos);
  auto no_depth = c;
  no_depth.model.depth = 0;
  EXPECT_NE(error_of([&] { validate(no_depth); }).find("needs model.hidden_size and model.depth"), std::string::npos);
  auto heads = c;
  heads.model.num_heads = 3;
  EXPECT_NE(error_of([&] { validate(heads); }).find("multiple of 4 and of model.num_heads = 3"), std::string::npos);
  auto patch = c;
  patch.model.patch_size = 5;
  EXPECT_NE(error_of([&] { validate(patch); }).find("does not divide data.image_size 32"), std::string::npos);
}

TEST(DiT, UnknownSizeListsTheKnownOnes) {
  auto message = error_of([] { dit("DiT-Q/3"); });
  EXPECT_NE(message.find("unknown model.variant 'DiT-Q/3'"), std::string::npos) << message;
  EXPECT_NE(message.find("DiT-S/2"), std::string::npos) << message;
}

TEST(DiT, OutputIsExactlyZeroAtInitialisation) {
  torch::manual_seed(0);
  auto model = dit("DiT-T/2", "meanflow");
  auto x = torch::randn({3, 3, 32, 32});
  auto t = torch::rand({3}), r = t * 0.5;
  auto y = torch::tensor({0, 4, 10}, torch::kInt64);
  EXPECT_EQ(model->forward(x, t, y).abs().max().item<double>(), 0.0);
  EXPECT_EQ(interval_of(*model).forward_interval(x, r, t, y).abs().max().item<double>(), 0.0);
  EXPECT_EQ(model->forward(x, t, y).sizes(), x.sizes());
}

TEST(DiT, PatchifyThenUnpatchifyIsTheIdentity) {
  auto x = torch::randn({2, 3, 8, 8});
  for (int64_t p : {1, 2, 4, 8}) {
    auto tokens = patchify(x, p);
    ASSERT_EQ(tokens.sizes(), (std::vector<int64_t>{2, 64 / (p * p), p * p * 3}));
    EXPECT_TRUE(torch::equal(unpatchify(tokens, p, 3), x)) << p;
  }
  // Token 1 is the patch at row 0, column 1; its features run (row, column, channel).
  auto tokens = patchify(x, 2);
  EXPECT_EQ(tokens[0][1][0].item<float>(), x[0][0][0][2].item<float>());
  EXPECT_EQ(tokens[0][1][1].item<float>(), x[0][1][0][2].item<float>());
  EXPECT_EQ(tokens[0][1][3].item<float>(), x[0][0][0][3].item<float>());
  EXPECT_EQ(tokens[0][1][6].item<float>(), x[0][0][1][2].item<float>());
}

TEST(DiT, PositionEmbeddingIsTheSinCosOfColumnAndRow) {
  auto pe = sincos_position_embedding_2d(8, 4);  // quarter = 2 frequencies: 1 and 1/100
  ASSERT_EQ(pe.sizes(), (std::vector<int64_t>{16, 8}));
  // Token 6 = row 1, column 2: [sin 2, sin .02, cos 2, cos .02 | sin 1, sin .01, cos 1, cos .01]
  std::vector<double> expected = {std::sin(2.0), std::sin(0.02), std::cos(2.0), std::cos(0.02),
                                  std::sin(1.0), std::sin(0.01), std::cos(1.0), std::cos(0.01)};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(pe[6][i].item<double>(), expected[i], 1e-6) << i;
}

TEST(DiT, MeanFlowJvpMatchesCentralFiniteDifference) {
  for (const char* pair : {"t,t-r", "r,t"}) {
    Config c;
    c.model.type = "dit";
    c.model.variant = "DiT-T/2";
    c.model.time_pair = pair;
    c.model.num_classes = 4;
    c.method.name = "meanflow";
    c.data.image_size = 8;
    torch::manual_seed(0);
    auto model = make_backbone(c);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model->parameters()) p.normal_(0.0, 0.05);  // open the zero-init layers; larger weights make
      // the function so steep in t that the finite difference itself is off by 1e-5
    }
    model->to(torch::kFloat64);
    auto opts = torch::TensorOptions().dtype(torch::kFloat64);
    auto z = torch::randn({2, 3, 8, 8}, opts), v = torch::randn({2, 3, 8, 8}, opts);
    auto r = torch::tensor({0.2, 0.1}, opts), t = torch::tensor({0.7, 0.55}, opts);
    auto y = torch::tensor({1, 3}, torch::kInt64);
    auto jvp = meanflow_jvp(*model, z, v, r, t, y);
    double h = 1e-7;  // the time embedding oscillates at up to 1000 t
    torch::NoGradGuard no_grad;
    auto fd = (interval_of(*model).forward_interval(z + h * v, r, t + h, y) -
               interval_of(*model).forward_interval(z - h * v, r, t - h, y)) / (2 * h);
    EXPECT_GT(fd.abs().max().item<double>(), 1e-3) << pair;
    EXPECT_LT((jvp - fd).abs().max().item<double>(), 1e-5 * (1 + fd.abs().max().item<double>()))
        << pair;
  }
}

TEST(DiT, CfmConvergesOnTinyImages) {
  TempDir dir;
  auto data = tiny_dataset(64);
  auto config = tiny_config(dir.path());
  config.model.type = "dit";
  config.model.variant = "DiT-T/2";
  config.training.steps = 600;
  auto method = make_method(config);
  Trainer trainer(config, data, *method);
  trainer.run();

  auto labels = class_check_labels();
  auto dist = class_image_distances(*method, *trainer.ema_model(), config.sampling);
  // Per-pixel MSE to the own class image; untrained samples are ~1.6 away. Half, band and
  // corner are functions of the patch row or column alone and come out within 0.01. The
  // checker needs the parity of row + column from the sin-cos position features: a 2-block
  // DiT learns that late and at a seed-dependent step (0.06-0.55 after 800 steps), so here it
  // only has to have moved halfway.
  auto checker = labels == 2;
  auto own = dist.gather(1, labels.unsqueeze(1)).squeeze(1);
  auto nearest = dist.argmin(1);
  EXPECT_TRUE(torch::equal(nearest.masked_select(~checker), labels.masked_select(~checker))) << dist;
  EXPECT_LT(own.masked_select(~checker).max().item<double>(), 0.05) << dist;
  EXPECT_LT(own.masked_select(checker).max().item<double>(), 0.8) << dist;
}
