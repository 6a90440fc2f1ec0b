// AutoencoderKL: Stable Diffusion's names and shapes, the renamings that load other tools' files,
// load_autoencoder's formats and errors, and a tiny one learning to reconstruct.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "flowlab/data/shapes.h"
#include "flowlab/eval/autoencoder.h"
#include "flowlab/io/files.h"
#include "flowlab/io/safetensors.h"
#include "flowlab/methods/registry.h"
#include "flowlab/models/autoencoder_kl.h"
#include "flowlab/recipe.h"
#include "flowlab/training/autoencoder_file.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/trainer.h"
#include "test_helpers.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

AutoencoderKLOptions small_options() {
  AutoencoderKLOptions o;
  o.block_out_channels = {16, 32};
  o.layers_per_block = 1;
  o.norm_groups = 8;
  return o;
}

// flowlab's (diffusers') names -> LDM's (CompVis), inside a whole Stable Diffusion checkpoint:
// the inverse of what diffusers_vae_names undoes, written out here independently.
std::map<std::string, torch::Tensor> compvis_checkpoint(const std::map<std::string, torch::Tensor>& weights,
                                                        int64_t levels) {
  const std::vector<std::pair<std::regex, std::string>> rules = {
      {std::regex(R"(^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.)"), "encoder.down.$1.block.$2."},
      {std::regex(R"(^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.)"), "encoder.down.$1.downsample.conv."},
      {std::regex(R"(\.mid_block\.resnets\.0\.)"), ".mid.block_1."},
      {std::regex(R"(\.mid_block\.resnets\.1\.)"), ".mid.block_2."},
      {std::regex(R"(\.mid_block\.attentions\.0\.group_norm\.)"), ".mid.attn_1.norm."},
      {std::regex(R"(\.mid_block\.attentions\.0\.to_(q|k|v)\.)"), ".mid.attn_1.$1."},
      {std::regex(R"(\.mid_block\.attentions\.0\.to_out\.0\.)"), ".mid.attn_1.proj_out."},
      {std::regex(R"(\.conv_norm_out\.)"), ".norm_out."},
      {std::regex(R"(\.conv_shortcut\.)"), ".nin_shortcut."}};
  std::map<std::string, torch::Tensor> out;
  std::regex up(R"(^decoder\.up_blocks\.(\d+)\.(resnets\.(\d+)|upsamplers\.0\.conv)\.)");
  for (const auto& [key, tensor] : weights) {
    std::string name = key;
    auto value = tensor;
    std::smatch m;
    if (std::regex_search(name, m, up)) {
      auto level = std::to_string(levels - 1 - std::stoll(m[1].str()));
      name = "decoder.up." + level + "." + (m[3].matched ? "block." + m[3].str() : "upsample.conv") + "." +
             m.suffix().str();
    }
    for (const auto& [pattern, replacement] : rules) name = std::regex_replace(name, pattern, replacement);
    if (name.find(".attn_1.") != std::string::npos && value.dim() == 2) value = value.view({value.size(0), value.size(1), 1, 1});
    out["first_stage_model." + name] = value;
  }
  out["model.diffusion_model.input_blocks.0.0.weight"] = torch::zeros({2});  // not the autoencoder's
  out["cond_stage_model.transformer.text_model.embeddings.position_ids"] = torch::zeros({2});
  return out;
}

void write_config_json(const std::string& path, const AutoencoderKLOptions& o) {
  std::ostringstream json;
  json << R"({"_class_name": "AutoencoderKL", "in_channels": )" << o.in_channels << R"(, "block_out_channels": [)";
  for (size_t i = 0; i < o.block_out_channels.size(); ++i) json << (i ? ", " : "") << o.block_out_channels[i];
  json << R"(], "layers_per_block": )" << o.layers_per_block << R"(, "latent_channels": )" << o.latent_channels
       << R"(, "norm_num_groups": )" << o.norm_groups << R"(, "scaling_factor": 0.13025, "shift_factor": null})";
  write_text(path, json.str());
}

}  // namespace

TEST(AutoencoderKL, StableDiffusionsKeysAndShapesAndParameterCount) {
  AutoencoderKL sd{AutoencoderKLOptions{}};
  std::ifstream list(std::string(FLOWLAB_FIXTURES_DIR) + "/sd_vae_keys.txt");
  std::map<std::string, std::vector<int64_t>> expected;
  for (std::string line; std::getline(list, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string name;
    in >> name;
    std::vector<int64_t> shape;
    for (int64_t d; in >> d;) shape.push_back(d);
    expected[name] = shape;
  }
  ASSERT_EQ(expected.size(), 248u);
  std::map<std::string, std::vector<int64_t>> ours;
  for (const auto& [name, tensor] : named_weights(sd)) ours[name] = tensor.sizes().vec();
  EXPECT_EQ(ours, expected);
  EXPECT_EQ(sd.parameter_count(), 83653863);  // diffusers' count for sd-vae-ft-mse
  EXPECT_EQ(sd.options().downsampling(), 8);
}

TEST(AutoencoderKL, CompVisAndOldDiffusersNamesRenameToOurs) {
  const std::map<std::string, std::string> pairs = {
      {"first_stage_model.encoder.down.0.block.1.conv2.weight", "encoder.down_blocks.0.resnets.1.conv2.weight"},
      {"first_stage_model.encoder.down.2.downsample.conv.bias", "encoder.down_blocks.2.downsamplers.0.conv.bias"},
      {"first_stage_model.encoder.down.1.block.0.nin_shortcut.weight", "encoder.down_blocks.1.resnets.0.conv_shortcut.weight"},
      {"first_stage_model.decoder.up.3.upsample.conv.weight", "decoder.up_blocks.0.upsamplers.0.conv.weight"},
      {"first_stage_model.decoder.up.0.block.2.norm1.bias", "decoder.up_blocks.3.resnets.2.norm1.bias"},
      {"first_stage_model.decoder.up.1.block.0.nin_shortcut.bias", "decoder.up_blocks.2.resnets.0.conv_shortcut.bias"},
      {"first_stage_model.decoder.mid.block_2.conv1.weight", "decoder.mid_block.resnets.1.conv1.weight"},
      {"first_stage_model.encoder.mid.attn_1.norm.weight", "encoder.mid_block.attentions.0.group_norm.weight"},
      {"first_stage_model.decoder.mid.attn_1.proj_out.bias", "decoder.mid_block.attentions.0.to_out.0.bias"},
      {"first_stage_model.encoder.norm_out.bias", "encoder.conv_norm_out.bias"},
      {"first_stage_model.quant_conv.weight", "quant_conv.weight"},
  };
  std::map<std::string, torch::Tensor> in = {{"model.diffusion_model.out.2.weight", torch::zeros({1})},
                                             {"first_stage_model.encoder.mid.attn_1.q.weight", torch::ones({3, 3, 1, 1})}};
  for (const auto& [from, to] : pairs) in[from] = torch::zeros({1});
  auto out = diffusers_vae_names(in, 4);
  EXPECT_EQ(out.size(), pairs.size() + 1);  // the diffusion model's tensor is dropped
  for (const auto& [from, to] : pairs) EXPECT_TRUE(out.count(to)) << from << " -> " << to;
  EXPECT_EQ(out.at("encoder.mid_block.attentions.0.to_q.weight").sizes(), (std::vector<int64_t>{3, 3}));
  // diffusers before 0.15, and LDM's own training loss in a VAE checkpoint.
  auto old = diffusers_vae_names({{"decoder.mid_block.attentions.0.query.bias", torch::zeros({1})},
                                  {"encoder.mid_block.attentions.0.proj_attn.weight", torch::zeros({1, 1})},
                                  {"loss.discriminator.main.0.weight", torch::zeros({1})}},
                                 4);
  EXPECT_EQ(old.size(), 2u);
  EXPECT_TRUE(old.count("decoder.mid_block.attentions.0.to_q.bias"));
  EXPECT_TRUE(old.count("encoder.mid_block.attentions.0.to_out.0.weight"));
}

TEST(AutoencoderKL, LoadsDiffusersAndCompVisFilesAndRefusesWhatDoesNotFit) {
  TempDir dir;
  torch::manual_seed(0);
  auto options = small_options();
  AutoencoderKL source(options);
  auto weights = named_weights(source);
  std::filesystem::create_directories(dir / "diffusers");
  std::filesystem::create_directories(dir / "compvis");
  write_safetensors(dir / "diffusers/diffusion_pytorch_model.safetensors", weights);
  write_config_json(dir / "diffusers/config.json", options);
  write_safetensors(dir / "compvis/model.safetensors", compvis_checkpoint(weights, 2));
  write_config_json(dir / "compvis/config.json", options);
  for (const char* file : {"diffusers/diffusion_pytorch_model.safetensors", "compvis/model.safetensors"}) {
    auto vae = load_autoencoder(dir / file, 3);
    EXPECT_DOUBLE_EQ(vae->options().scaling_factor, 0.13025) << file;
    for (const auto& [name, tensor] : named_weights(*vae)) EXPECT_TRUE(torch::equal(tensor, weights.at(name))) << file << " " << name;
  }
  // Bad input, one clear line each.
  std::filesystem::remove(dir / "diffusers/config.json");
  EXPECT_NE(error_of([&] { load_autoencoder(dir / "diffusers/diffusion_pytorch_model.safetensors"); })
                .find("config.json beside it, and there is none"), std::string::npos);
  auto wider = options;
  wider.block_out_channels = {32, 32};
  write_config_json(dir / "diffusers/config.json", wider);  // sizes that do not fit the weights
  auto misfit = error_of([&] { load_autoencoder(dir / "diffusers/diffusion_pytorch_model.safetensors"); });
  EXPECT_NE(misfit.find("autoencoder " + (dir / "diffusers/diffusion_pytorch_model.safetensors")), std::string::npos)
      << misfit;
  EXPECT_NE(error_of([&] { load_autoencoder(dir / "compvis/model.safetensors", 1); })
                .find("takes 3-channel images; these have 1"), std::string::npos);
}

TEST(AutoencoderKL, ATinyOneLearnsToReconstructShapesAndAnUntrainedOneDoesNot) {
  TempDir dir;
  Config config;
  config.data.image_size = 16;
  config.data.num_images = 256;
  config.vae.ch = 16;
  config.vae.ch_mult = {1, 2};
  config.vae.num_res_blocks = 1;
  config.vae.norm_groups = 8;
  config.training.batch_size = 32;
  config.training.steps = 150;
  config.training.lr = 2e-3;
  config.scheduler.min_lr = 2e-4;
  config.training.ema_decay = 0.95;
  config.training.sample_every = 0;
  config.training.log_every = 50;
  config.training.threads = 1;
  config.training.output_dir = dir.path();
  config = for_method(config, "vae", false);
  auto data = load_dataset(config.data);
  fit_model_to_data(config, data);
  auto method = make_method(config);
  torch::manual_seed(0);
  AutoencoderKL untrained(vae_options(config));
  auto before = evaluate_autoencoder(untrained, data, 64, 32, nullptr, torch::kCPU);
  Trainer trainer(config, data, *method);
  trainer.run();
  auto vae = load_autoencoder(dir / "last.pt", 3);
  auto after = evaluate_autoencoder(*vae, data, 64, 32, nullptr, torch::kCPU);
  EXPECT_LT(before.psnr, 12.0);
  EXPECT_GT(after.psnr, 18.0) << "untrained " << before.psnr;
  EXPECT_GT(after.latent_std, 0.0);
}
