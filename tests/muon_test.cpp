// Muon (training.optimizer: muon): the Newton-Schulz iteration against the singular value
// decomposition, the optimizer's steps against a plain-PyTorch mirror
// (scripts/fixtures/make_muon_fixture.py), which parameters it takes, and a bit-exact resume.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "flowlab/methods/registry.h"
#include "flowlab/recipe.h"
#include "flowlab/training/muon.h"
#include "flowlab/training/trainer.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

torch::Tensor from_json(const nlohmann::json& values, const nlohmann::json& shape) {
  auto flat = torch::tensor(values.get<std::vector<float>>());
  return flat.reshape(shape.get<std::vector<int64_t>>());
}

std::vector<std::string> names_of(const Backbone& model, const std::vector<torch::Tensor>& tensors) {
  std::vector<std::string> names;
  for (const auto& p : model.named_parameters())
    for (const auto& t : tensors)
      if (p.value().is_same(t)) names.push_back(p.key());
  return names;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

// G = U S V^T: the iteration keeps U and V and maps each singular value s by the scalar
// iteration s <- a s + b s^3 + c s^5 from s / ||G||_F; five steps land them in the band
// around 1 that the coefficients are chosen for.
TEST(Muon, NewtonSchulzKeepsTheSingularVectorsAndMovesEachSingularValueIntoTheBand) {
  torch::manual_seed(1);
  for (auto shape : std::vector<std::vector<int64_t>>{{16, 32}, {32, 16}, {24, 24}, {64, 8}}) {
    auto g = torch::randn(shape, torch::kFloat64);
    auto o = newton_schulz_orthogonalize(g).to(torch::kFloat64);
    auto [u, s, vh] = torch::linalg::svd(g, /*full_matrices=*/false, c10::nullopt);
    auto in_basis = torch::matmul(torch::matmul(u.t(), o), vh.t());  // U^T O V
    auto diagonal = torch::diagonal(in_basis);
    EXPECT_LT((in_basis - torch::diag(diagonal)).abs().max().item<double>(), 1e-5) << shape;
    auto expected = s / g.norm();
    for (int i = 0; i < 5; ++i) expected = 3.4445 * expected - 4.7750 * expected.pow(3) + 2.0315 * expected.pow(5);
    EXPECT_LT((diagonal - expected).abs().max().item<double>(), 1e-5) << shape;
    EXPECT_GT(diagonal.min().item<double>(), 0.5) << shape;
    EXPECT_LT(diagonal.max().item<double>(), 1.2) << shape;
  }
}

TEST(Muon, StepsMatchThePlainPyTorchMirror) {
  std::ifstream in(std::string(FLOWLAB_FIXTURES_DIR) + "/muon_golden.json");
  ASSERT_TRUE(in.good());
  auto golden = nlohmann::json::parse(in);
  const auto& shapes = golden["shapes"];
  const auto& settings = golden["settings"];
  std::map<std::string, std::vector<torch::Tensor>> params;
  for (const std::string part : {"matrices", "others"})
    for (size_t i = 0; i < shapes[part].size(); ++i)
      params[part].push_back(from_json(golden["start"][part][i], shapes[part][i]).requires_grad_());
  auto betas = settings["betas"].get<std::vector<double>>();
  Muon muon(params["matrices"],
            MuonOptions(settings["muon_lr"]).momentum(settings["momentum"]).weight_decay(settings["weight_decay"]),
            params["others"],
            torch::optim::AdamWOptions(settings["lr"]).betas({betas[0], betas[1]}).weight_decay(settings["weight_decay"]));
  for (const auto& step : golden["steps"]) {
    for (const std::string part : {"matrices", "others"})
      for (size_t i = 0; i < params[part].size(); ++i)
        params[part][i].mutable_grad() = from_json(step["grads"][part][i], shapes[part][i]);
    muon.step();
    for (const std::string part : {"matrices", "others"})
      for (size_t i = 0; i < params[part].size(); ++i) {
        auto expected = from_json(step["after"][part][i], shapes[part][i]);
        EXPECT_LT((params[part][i].detach() - expected).abs().max().item<double>(), 2e-6) << part << " " << i;
      }
  }
}

TEST(Muon, TakesTheHiddenMatricesAndLeavesTheRestToAdamW) {
  auto config = tiny_config("unused");
  for (const std::string type : {"tiny_unet", "dit"}) {
    config.model.type = type;
    if (type == "dit") {
      config.model.hidden_size = 32;
      config.model.depth = 2;
      config.model.patch_size = 2;
    }
    auto model = make_backbone(config);
    auto split = split_for_muon(*model);
    auto muon = names_of(*model, split.matrices), adamw = names_of(*model, split.others);
    EXPECT_EQ(muon.size() + adamw.size(), model->parameters().size()) << type;
    for (const auto& name : muon) EXPECT_GE(model->named_parameters()[name].dim(), 2) << name;
    if (type == "tiny_unet") {
      EXPECT_TRUE(contains(muon, "down.0.res.0.conv1.weight"));
      EXPECT_TRUE(contains(muon, "mid_attn.qkv.weight"));
      EXPECT_TRUE(contains(muon, "time_embed.mlp.0.weight"));
      for (auto name : {"conv_in.weight", "out_conv.weight", "class_embed.weight", "down.0.res.0.conv1.bias",
                        "down.0.res.0.norm1.weight"})
        EXPECT_TRUE(contains(adamw, name)) << name;
    } else {
      EXPECT_TRUE(contains(muon, "blocks.0.attn.qkv.weight"));
      EXPECT_TRUE(contains(muon, "blocks.1.fc2.weight"));
      for (auto name : {"patch_embed.weight", "final_linear.weight", "y_embedder.weight", "blocks.0.fc1.bias"})
        EXPECT_TRUE(contains(adamw, name)) << name;
    }
  }
}

TEST(Muon, ResumeGivesTheSameWeightsAsOneRun) {
  TempDir a, b;
  auto data = tiny_dataset(16);
  auto config = tiny_config(a.path());
  config.training.steps = 6;
  config.training.optimizer = "muon";
  auto method = make_method(config);
  Trainer straight(config, data, *method);
  straight.run();

  config.training.output_dir = b.path();
  Trainer first_half(config, data, *method);
  auto half = first_half.run("", 3);
  ASSERT_TRUE(half.stopped);
  Trainer second_half(config, data, *method);
  ASSERT_EQ(second_half.run(half.checkpoint).step, 6);
  auto pa = straight.model()->parameters(), pb = second_half.model()->parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;

  // The optimizer changed between the halves: one line.
  config.training.optimizer = "adamw";
  Trainer other(config, data, *method);
  auto message = error_of([&] { other.run(half.checkpoint); });
  EXPECT_NE(message.find("was trained with training.optimizer muon"), std::string::npos) << message;
}
