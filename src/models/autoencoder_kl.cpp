#include "flowlab/models/autoencoder_kl.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <regex>

#include "flowlab/config.h"
#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/models/attention.h"
#include "flowlab/strings.h"

namespace flowlab {
namespace detail {
namespace {

namespace nn = torch::nn;

nn::GroupNorm vae_norm(int64_t channels, int64_t groups) {
  return nn::GroupNorm(nn::GroupNormOptions(groups, channels).eps(1e-6));
}

// GroupNorm in its weights' precision: under bf16 autocast the activations arrive in bf16, and
// LibTorch 1.13's CPU group_norm needs input and weights of one dtype.
torch::Tensor normalized(nn::GroupNorm& norm, const torch::Tensor& x) {
  return norm(x.to(norm->weight.scalar_type()));
}

nn::Conv2d vae_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t padding = -1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding < 0 ? kernel / 2 : padding));
}

}  // namespace

VaeResnetImpl::VaeResnetImpl(int64_t in, int64_t out, int64_t groups) {
  norm1 = register_module("norm1", vae_norm(in, groups));
  conv1 = register_module("conv1", vae_conv(in, out, 3));
  norm2 = register_module("norm2", vae_norm(out, groups));
  conv2 = register_module("conv2", vae_conv(out, out, 3));
  if (in != out) conv_shortcut = register_module("conv_shortcut", vae_conv(in, out, 1));
}

torch::Tensor VaeResnetImpl::forward(const torch::Tensor& x) {
  auto h = conv1(torch::silu(normalized(norm1, x)));
  h = conv2(torch::silu(normalized(norm2, h)));
  return (conv_shortcut ? conv_shortcut(x) : x) + h;
}

VaeAttentionImpl::VaeAttentionImpl(int64_t channels, int64_t groups) {
  group_norm = register_module("group_norm", vae_norm(channels, groups));
  to_q = register_module("to_q", nn::Linear(channels, channels));
  to_k = register_module("to_k", nn::Linear(channels, channels));
  to_v = register_module("to_v", nn::Linear(channels, channels));
  to_out = register_module("to_out", nn::ModuleList(nn::Linear(channels, channels)));
}

torch::Tensor VaeAttentionImpl::forward(const torch::Tensor& x) {
  int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  auto tokens = normalized(group_norm, x).reshape({n, c, h * w}).transpose(1, 2);  // (N, HW, C)
  // One head of width C: (N, 1, HW, C).
  auto out = dot_product_attention(to_q(tokens).unsqueeze(1), to_k(tokens).unsqueeze(1),
                                   to_v(tokens).unsqueeze(1)).squeeze(1);
  out = to_out[0]->as<nn::Linear>()->forward(out);
  return x + out.transpose(1, 2).reshape({n, c, h, w});
}

VaeMidBlockImpl::VaeMidBlockImpl(int64_t channels, int64_t groups) {
  resnets = register_module("resnets", nn::ModuleList(VaeResnet(channels, channels, groups),
                                                      VaeResnet(channels, channels, groups)));
  attentions = register_module("attentions", nn::ModuleList(VaeAttention(channels, groups)));
}

torch::Tensor VaeMidBlockImpl::forward(torch::Tensor x) {
  x = resnets[0]->as<VaeResnet>()->forward(x);
  x = attentions[0]->as<VaeAttention>()->forward(x);
  return resnets[1]->as<VaeResnet>()->forward(x);
}

VaeLevelImpl::VaeLevelImpl(int64_t in, int64_t out, int64_t blocks, int64_t groups,
                           const std::string& resample)
    : resample_(resample) {
  resnets = register_module("resnets", nn::ModuleList());
  for (int64_t b = 0; b < blocks; ++b) resnets->push_back(VaeResnet(b == 0 ? in : out, out, groups));
  if (resample == "down") {
    // Stride 2 without padding after zero-padding right and bottom by one (LDM's Downsample).
    samplers = register_module("downsamplers", nn::ModuleList(VaeSampler(vae_conv(out, out, 3, 2, 0))));
  } else if (resample == "up") {
    samplers = register_module("upsamplers", nn::ModuleList(VaeSampler(vae_conv(out, out, 3))));
  }
}

torch::Tensor VaeLevelImpl::forward(torch::Tensor x) {
  for (const auto& block : *resnets) x = block->as<VaeResnet>()->forward(x);
  if (resample_ == "down") {
    x = torch::constant_pad_nd(x, {0, 1, 0, 1});
  } else if (resample_ == "up") {
    x = torch::nn::functional::interpolate(
        x, torch::nn::functional::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
  }
  return samplers ? samplers[0]->as<VaeSampler>()->conv(x) : x;
}

VaeEncoderImpl::VaeEncoderImpl(const AutoencoderKLOptions& o) {
  const auto& widths = o.block_out_channels;
  conv_in = register_module("conv_in", vae_conv(o.in_channels, widths[0], 3));
  down_blocks = register_module("down_blocks", nn::ModuleList());
  int64_t ch = widths[0];
  for (size_t l = 0; l < widths.size(); ++l) {
    bool last = l + 1 == widths.size();
    down_blocks->push_back(VaeLevel(ch, widths[l], o.layers_per_block, o.norm_groups, last ? "" : "down"));
    ch = widths[l];
  }
  mid_block = register_module("mid_block", VaeMidBlock(ch, o.norm_groups));
  conv_norm_out = register_module("conv_norm_out", vae_norm(ch, o.norm_groups));
  conv_out = register_module("conv_out", vae_conv(ch, 2 * o.latent_channels, 3));
}

torch::Tensor VaeEncoderImpl::forward(torch::Tensor x) {
  x = conv_in(x);
  for (const auto& level : *down_blocks) x = level->as<VaeLevel>()->forward(x);
  x = mid_block(x);
  return conv_out(torch::silu(normalized(conv_norm_out, x)));
}

VaeDecoderImpl::VaeDecoderImpl(const AutoencoderKLOptions& o) {
  std::vector<int64_t> widths(o.block_out_channels.rbegin(), o.block_out_channels.rend());
  conv_in = register_module("conv_in", vae_conv(o.latent_channels, widths[0], 3));
  mid_block = register_module("mid_block", VaeMidBlock(widths[0], o.norm_groups));
  up_blocks = register_module("up_blocks", nn::ModuleList());
  int64_t ch = widths[0];
  for (size_t l = 0; l < widths.size(); ++l) {
    bool last = l + 1 == widths.size();
    up_blocks->push_back(VaeLevel(ch, widths[l], o.layers_per_block + 1, o.norm_groups, last ? "" : "up"));
    ch = widths[l];
  }
  conv_norm_out = register_module("conv_norm_out", vae_norm(ch, o.norm_groups));
  conv_out = register_module("conv_out", vae_conv(ch, o.in_channels, 3));
}

torch::Tensor VaeDecoderImpl::forward(torch::Tensor z) {
  z = mid_block(conv_in(z));
  for (const auto& level : *up_blocks) z = level->as<VaeLevel>()->forward(z);
  return conv_out(torch::silu(normalized(conv_norm_out, z)));
}

}  // namespace detail

AutoencoderKL::AutoencoderKL(const AutoencoderKLOptions& options) : options_(options) {
  const auto& o = options_;
  TORCH_CHECK(!o.block_out_channels.empty(), "autoencoder: block_out_channels is empty");
  for (auto w : o.block_out_channels)
    TORCH_CHECK(w % o.norm_groups == 0, "autoencoder: width ", w, " is not a multiple of ", o.norm_groups,
                " GroupNorm groups");
  encoder = register_module("encoder", detail::VaeEncoder(o));
  decoder = register_module("decoder", detail::VaeDecoder(o));
  quant_conv = register_module("quant_conv", torch::nn::Conv2d(2 * o.latent_channels, 2 * o.latent_channels, 1));
  post_quant_conv = register_module("post_quant_conv", torch::nn::Conv2d(o.latent_channels, o.latent_channels, 1));
}

DiagonalGaussian AutoencoderKL::encode(const torch::Tensor& x) {
  auto moments = quant_conv(encoder(x)).chunk(2, 1);
  return {moments[0], moments[1].clamp(-30.0, 20.0)};
}

torch::Tensor AutoencoderKL::decode(const torch::Tensor& z) { return decoder(post_quant_conv(z)); }

torch::Tensor AutoencoderKL::to_latents(const torch::Tensor& z) const {
  return (z - options_.shift_factor) * options_.scaling_factor;
}

torch::Tensor AutoencoderKL::from_latents(const torch::Tensor& latents) const {
  return latents / options_.scaling_factor + options_.shift_factor;
}

torch::Tensor AutoencoderKL::reconstruct(const torch::Tensor& x) {
  return decode(encode(x).mode());
}

namespace {

// One renaming rule: a regex over the whole name and its replacement.
struct Rename {
  std::regex pattern;
  std::string replacement;
};

const std::vector<Rename>& compvis_renames() {
  static const std::vector<Rename> rules = [] {
    std::vector<std::pair<std::string, std::string>> text = {
        {R"(^encoder\.down\.(\d+)\.block\.(\d+)\.)", "encoder.down_blocks.$1.resnets.$2."},
        {R"(^encoder\.down\.(\d+)\.downsample\.conv\.)", "encoder.down_blocks.$1.downsamplers.0.conv."},
        {R"(^(encoder|decoder)\.mid\.block_1\.)", "$1.mid_block.resnets.0."},
        {R"(^(encoder|decoder)\.mid\.block_2\.)", "$1.mid_block.resnets.1."},
        {R"(^(encoder|decoder)\.mid\.attn_1\.norm\.)", "$1.mid_block.attentions.0.group_norm."},
        {R"(^(encoder|decoder)\.mid\.attn_1\.(q|k|v)\.)", "$1.mid_block.attentions.0.to_$2."},
        {R"(^(encoder|decoder)\.mid\.attn_1\.proj_out\.)", "$1.mid_block.attentions.0.to_out.0."},
        {R"(^(encoder|decoder)\.norm_out\.)", "$1.conv_norm_out."},
        {R"(\.nin_shortcut\.)", ".conv_shortcut."},
        // diffusers before 0.15
        {R"(\.attentions\.0\.query\.)", ".attentions.0.to_q."},
        {R"(\.attentions\.0\.key\.)", ".attentions.0.to_k."},
        {R"(\.attentions\.0\.value\.)", ".attentions.0.to_v."},
        {R"(\.attentions\.0\.proj_attn\.)", ".attentions.0.to_out.0."},
    };
    std::vector<Rename> rules;
    for (const auto& [p, r] : text) rules.push_back({std::regex(p), r});
    return rules;
  }();
  return rules;
}

}  // namespace

std::map<std::string, torch::Tensor> diffusers_vae_names(const std::map<std::string, torch::Tensor>& weights,
                                                        int64_t levels) {
  const std::string prefix = "first_stage_model.";
  bool whole_checkpoint = false;
  for (const auto& kv : weights) whole_checkpoint |= starts_with(kv.first, prefix);
  static const std::regex up_level(R"(^decoder\.up\.(\d+)\.(block\.(\d+)|upsample\.conv)\.)");
  std::map<std::string, torch::Tensor> out;
  for (const auto& kv : weights) {
    std::string name = kv.first;
    auto tensor = kv.second;
    if (whole_checkpoint) {
      if (!starts_with(name, prefix)) continue;
      name = name.substr(prefix.size());
    }
    if (starts_with(name, "loss.")) continue;  // LDM's training loss (LPIPS, discriminator)
    std::smatch m;
    if (std::regex_search(name, m, up_level)) {
      // LDM numbers the decoder's levels from the bottom; diffusers from the top.
      auto level = std::to_string(levels - 1 - std::stoll(m[1].str()));
      auto rest = m[3].matched ? "resnets." + m[3].str() + "." : std::string("upsamplers.0.conv.");
      name = "decoder.up_blocks." + level + "." + rest + m.suffix().str();
    }
    for (const auto& rule : compvis_renames()) name = std::regex_replace(name, rule.pattern, rule.replacement);
    // Attention projections stored as 1x1 convolutions.
    if (name.find(".attentions.0.to_") != std::string::npos && tensor.dim() == 4) tensor = tensor.flatten(1);
    out[name] = tensor;
  }
  return out;
}

AutoencoderKLOptions read_diffusers_vae_config(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file_text(path));
  } catch (const nlohmann::json::exception&) {
    throw Error(path + " is not valid JSON (expected diffusers' AutoencoderKL config.json)");
  }
  AutoencoderKLOptions o;
  try {
    if (j.value("_class_name", "AutoencoderKL") != "AutoencoderKL")
      throw Error(path + " describes a " + j["_class_name"].get<std::string>() + ", not an AutoencoderKL");
    o.block_out_channels = j.at("block_out_channels").get<std::vector<int64_t>>();
    o.layers_per_block = j.value("layers_per_block", o.layers_per_block);
    o.latent_channels = j.value("latent_channels", o.latent_channels);
    o.norm_groups = j.value("norm_num_groups", o.norm_groups);
    o.in_channels = j.value("in_channels", o.in_channels);
    if (j.contains("scaling_factor") && j["scaling_factor"].is_number())
      o.scaling_factor = j["scaling_factor"].get<double>();
    if (j.contains("shift_factor") && j["shift_factor"].is_number())
      o.shift_factor = j["shift_factor"].get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": " + e.what());
  }
  if (o.block_out_channels.empty()) throw Error(path + ": block_out_channels is empty");
  return o;
}

NetworkEntry autoencoder_kl_entry() {
  NetworkEntry e;
  e.name = "autoencoder_kl";
  e.only_for_method = "vae";
  e.check = [](const Config& c) {
    const auto& v = c.vae;
    for (int mult : v.ch_mult)
      if ((v.ch * mult) % v.norm_groups != 0)
        throw Error("config: vae.norm_groups = " + std::to_string(v.norm_groups) +
                    " must divide every level's width (vae.ch * vae.ch_mult)");
    int64_t factor = int64_t{1} << (v.ch_mult.size() - 1);
    if (c.data.image_size % factor != 0)
      throw Error("config: vae.ch_mult has " + std::to_string(v.ch_mult.size()) +
                  " levels, so data.image_size must be divisible by " + std::to_string(factor));
  };
  e.make = [](const Config& c, bool) -> NetworkPtr { return std::make_shared<AutoencoderKL>(vae_options(c)); };
  e.rename_weights = [](const Config& c, const std::map<std::string, torch::Tensor>& w) {
    return diffusers_vae_names(w, static_cast<int64_t>(c.vae.ch_mult.size()));
  };
  return e;
}

AutoencoderKLOptions vae_options(const Config& c) {
  AutoencoderKLOptions o;
  o.in_channels = c.model.in_channels;
  o.block_out_channels.clear();
  for (int mult : c.vae.ch_mult) o.block_out_channels.push_back(int64_t{c.vae.ch} * mult);
  o.layers_per_block = c.vae.num_res_blocks;
  o.latent_channels = c.vae.z_channels;
  o.norm_groups = c.vae.norm_groups;
  o.scaling_factor = c.vae.scaling_factor;
  o.shift_factor = c.vae.shift_factor;
  return o;
}

}  // namespace flowlab
