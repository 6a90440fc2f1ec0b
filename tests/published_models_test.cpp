// Published networks (DiT, SiT, REPA) imported and run as their authors run them: golden values from
// scripts/fixtures/make_published_fixtures.py, a mirror of the published architecture under its parameter
// names, on small random networks; the full DiT-XL/2 key set; and every bad file in one line.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "flowlab/error.h"
#include "flowlab/io/torch_file.h"
#include "flowlab/methods/registry.h"
#include "flowlab/recipe.h"
#include "flowlab/tasks/published_models.h"
#include "flowlab/training/checkpoint.h"
#include "test_helpers.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

std::string fixture(const std::string& name) { return std::string(FLOWLAB_FIXTURES_DIR) + "/published/" + name; }

const PickleValue& golden() {
  static const PickleValue values = read_torch_file(fixture("golden.pt"));
  return values;
}

torch::Tensor golden_tensor(const std::string& key) { return golden().find(key)->as_tensor(); }

double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).norm() / b.norm()).item<double>();
}

struct Imported {
  Config config;
  BackbonePtr model;
};

Imported import_fixture(const std::string& format) {
  ImportRequest request;
  request.format = format;
  request.weights = fixture(format + ".pt");
  request.num_heads = 6;  // width 48 is none of DiT's named sizes
  auto imported = import_published_model(request);
  validate(imported.config);
  auto model = make_backbone(imported.config);
  load_named_weights(*model, imported.weights, request.weights);
  model->eval();
  return {imported.config, model};
}

torch::Tensor sample(const Imported& net, const std::string& sampler, double cfg_scale) {
  auto config = net.config;
  config.sampling.sampler = sampler;
  config.sampling.steps = 10;
  config.sampling.cfg_scale = cfg_scale;
  config.ddpm.eta = 0;
  auto method = make_method(config);
  return method->sample(*net.model, golden_tensor("noise"), golden_tensor("labels"), config.sampling).x;
}

// A state dict with one change, written where the importer reads it.
std::string edited_copy(const TempDir& dir, const std::string& format,
                        const std::function<void(std::map<std::string, torch::Tensor>&)>& edit) {
  auto tensors = state_dict_of(read_torch_file(fixture(format + ".pt")), format);
  edit(tensors);
  auto path = dir / (format + "_edited.pt");
  write_torch_file(path, state_dict_value(tensors));
  return path;
}

std::string import_error(const std::string& format, const std::string& path, int num_heads = 6) {
  return error_of([&] { import_published_model({format, path, "", num_heads}); });
}

}  // namespace

TEST(PublishedModels, ImportedNetworksComputeWhatTheirArchitectureDoes) {
  auto noise = golden_tensor("noise"), labels = golden_tensor("labels");
  torch::NoGradGuard no_grad;
  // DiT takes the DDPM index 0..999 (flowlab's step minus one) and returns epsilon and variance.
  auto dit = import_fixture("dit");
  EXPECT_TRUE(dit.config.model.learn_sigma);
  auto dit_time = (golden_tensor("dit_steps").to(torch::kFloat32) + 1) / 1000;
  EXPECT_LT(relative_difference(dit.model->forward(noise, dit_time, labels), golden_tensor("dit_forward")), 1e-4);
  // SiT: its time is 1 - t and its velocity x - eps; the variance half is dropped.
  auto sit = import_fixture("sit");
  auto flow_time = 1 - golden_tensor("sit_times");
  EXPECT_LT(relative_difference(sit.model->forward(noise, flow_time, labels),
                                -golden_tensor("sit_forward").slice(1, 0, 4)),
            1e-4);
  // REPA's SiT: flowlab's time and velocity, no variance.
  auto repa = import_fixture("repa");
  EXPECT_FALSE(repa.config.model.learn_sigma);
  EXPECT_LT(relative_difference(repa.model->forward(noise, flow_time, labels), golden_tensor("repa_forward")), 1e-4);
}

TEST(PublishedModels, DiTsDdimAndSiTsEulerFollowTheAuthorsSamplers) {
  auto dit = import_fixture("dit");
  // DDIM over improved diffusion's 10 respaced steps, plain and with CFG 1.5 on 3 of 4 channels.
  EXPECT_EQ(dit.config.sampling.cfg_channels, 3);
  EXPECT_LT(relative_difference(sample(dit, "ddim", 1.0), golden_tensor("dit_ddim")), 1e-4);
  EXPECT_LT(relative_difference(sample(dit, "ddim", 1.5), golden_tensor("dit_ddim_cfg")), 1e-4);
  // Guiding every channel is another sampler: the comparison can fail.
  auto all_channels = dit;
  all_channels.config.sampling.cfg_channels = 0;
  EXPECT_GT(relative_difference(sample(all_channels, "ddim", 1.5), golden_tensor("dit_ddim_cfg")), 1e-3);

  auto sit = import_fixture("sit");
  EXPECT_LT(relative_difference(sample(sit, "euler", 1.0), golden_tensor("sit_euler")), 1e-4);
  EXPECT_LT(relative_difference(sample(sit, "euler", 1.5), golden_tensor("sit_euler_cfg")), 1e-4);
}

// SiT's sampler with --num-sampling-steps 10: 9 Euler-Maruyama steps over [0.04, 1], then a
// noise-free step of 0.04; CFG 1.5 on 3 channels; the noise drawn after the mirror's seed.
TEST(PublishedModels, SiTsSdeProtocolFollowsTheAuthorsSampler) {
  auto sit = import_fixture("sit");
  EXPECT_EQ(sit.config.sampling.sampler, "sde");
  EXPECT_EQ(sit.config.sampling.sde_last_step, 0.04);
  torch::manual_seed(5);
  EXPECT_LT(relative_difference(sample(sit, "sde", 1.5), golden_tensor("sit_sde_cfg")), 1e-4);
  // An even grid over the whole interval is another sampler: the comparison can fail.
  auto even = sit;
  even.config.sampling.sde_last_step = 0;
  torch::manual_seed(5);
  EXPECT_GT(relative_difference(sample(even, "sde", 1.5), golden_tensor("sit_sde_cfg")), 1e-3);
}

TEST(PublishedModels, RepaProjectorsAreLeftOutAndTheConfigIsThePapersProtocol) {
  auto imported = import_published_model({"repa", fixture("repa.pt"), "", 6});
  EXPECT_EQ(imported.left_out, (std::vector<std::string>{"projectors.0.0.bias", "projectors.0.0.weight"}));
  EXPECT_EQ(imported.config.method.name, "cfm");
  EXPECT_EQ(imported.config.sampling.cfg_scale, 1.8);
  EXPECT_EQ(imported.config.sampling.cfg_t_max, 0.7);
  auto dit = import_published_model({"dit", fixture("dit.pt"), "", 6}).config;
  EXPECT_EQ(dit.method.name, "ddpm");
  EXPECT_EQ(dit.ddpm.schedule, "linear");
  EXPECT_EQ(dit.ddpm.variance, "learned_range");
  EXPECT_FALSE(dit.ddpm.clip_denoised);
  EXPECT_EQ(dit.sampling.steps, 250);
  EXPECT_EQ(dit.data.image_size, 16);
  EXPECT_EQ(dit.model.num_classes, 10);
}

// DiT-XL-2-256x256.pt's names and shapes (SiT-XL-2-256.pt has the same), as zero-storage tensors.
TEST(PublishedModels, TheFullDiTXL2KeySetImportsWithItsPublishedParameterCount) {
  std::ifstream list(fixture("xl2_keys.txt"));
  std::map<std::string, torch::Tensor> tensors;
  std::string line;
  while (std::getline(list, line)) {
    std::istringstream fields(line);
    std::string name, dims;
    fields >> name >> dims;
    std::vector<int64_t> shape;
    std::istringstream d(dims);
    for (std::string v; std::getline(d, v, ',');) shape.push_back(std::stoll(v));
    tensors[name] = torch::zeros({1}).expand(shape);
  }
  ASSERT_EQ(tensors.size(), 292u);
  auto imported = import_published_tensors(tensors, {"dit", "DiT-XL-2-256x256.pt", "", 0}, "DiT-XL/2");
  EXPECT_EQ(imported.published_parameters, 675129632);
  const auto& m = imported.config.model;
  EXPECT_EQ(m.hidden_size, 1152);
  EXPECT_EQ(m.depth, 28);
  EXPECT_EQ(m.num_heads, 16);  // XL's, from its width
  EXPECT_EQ(m.num_classes, 1000);
  EXPECT_EQ(imported.config.data.image_size, 32);
  EXPECT_TRUE(m.learn_sigma);
}

TEST(PublishedModels, BadFilesAreOneLineErrors) {
  TempDir dir;
  write_text(dir / "text.pt", "not a pickle");
  EXPECT_NE(import_error("dit", dir / "text.pt").find("not a torch.save file"), std::string::npos);
  auto missing = edited_copy(dir, "dit", [](auto& t) { t.erase("blocks.1.mlp.fc2.bias"); });
  EXPECT_NE(import_error("dit", missing).find("has no tensor blocks.1.mlp.fc2.bias"), std::string::npos);
  auto extra = edited_copy(dir, "dit", [](auto& t) { t["blocks.0.attn.q_norm.weight"] = torch::ones({8}); });
  EXPECT_NE(import_error("dit", extra).find("blocks.0.attn.q_norm.weight that a dit network does not have"),
            std::string::npos);
  auto misshapen = edited_copy(dir, "sit", [](auto& t) { t["blocks.0.attn.proj.bias"] = torch::ones({47}); });
  EXPECT_NE(import_error("sit", misshapen).find("blocks.0.attn.proj.bias has shape [47]"), std::string::npos);
  EXPECT_NE(import_error("dit", fixture("dit.pt"), 5).find("5 heads do not divide the width 48"), std::string::npos);
  EXPECT_NE(import_error("dit", fixture("dit.pt"), 0).find("--num_heads"), std::string::npos);
  EXPECT_NE(import_error("ddpm", fixture("dit.pt")).find("use dit, sit or repa"), std::string::npos);
  auto no_blocks = edited_copy(dir, "dit", [](auto& t) {
    for (auto it = t.begin(); it != t.end();) it = it->first.rfind("blocks.1.", 0) == 0 ? t.erase(it) : std::next(it);
    t["blocks.2.attn.qkv.bias"] = torch::ones({144});
  });
  EXPECT_NE(import_error("dit", no_blocks).find("not numbered 0 to"), std::string::npos);
}
