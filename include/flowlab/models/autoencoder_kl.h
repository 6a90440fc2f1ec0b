// AutoencoderKL: the variational autoencoder of latent diffusion and Stable Diffusion (Rombach et
// al. 2022), with diffusers' parameter names, so Stable Diffusion's VAE weights load by name.
//   Encoder: conv_in; per level of block_out_channels, resnet blocks then a stride-2 downsample
//   (LDM's asymmetric zero padding, not on the last level); a middle block (resnet, single-head
//   self-attention, resnet); GroupNorm, SiLU, conv_out to 2 x latent_channels; quant_conv.
//   Decoder: post_quant_conv, conv_in, the middle block, per level in reverse resnet blocks + 1
//   then nearest 2x upsampling and a 3x3 convolution (not on the last level); GroupNorm, SiLU,
//   conv_out.
// GroupNorm everywhere with eps 1e-6. Images are in [-1, 1].
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "flowlab/models/network.h"
#include "flowlab/models/registry.h"
#include "flowlab/step_random.h"

namespace flowlab {

struct AutoencoderKLOptions {
  int64_t in_channels = 3;
  std::vector<int64_t> block_out_channels{128, 256, 512, 512};  // ch * ch_mult
  int64_t layers_per_block = 2;                                // num_res_blocks
  int64_t latent_channels = 4;                                 // z_channels
  int64_t norm_groups = 32;
  // Latents the diffusion model sees: (z - shift_factor) * scaling_factor. SD 1.x/2.x: 0.18215, 0.
  double scaling_factor = 0.18215;
  double shift_factor = 0.0;

  int64_t downsampling() const { return int64_t{1} << (block_out_channels.size() - 1); }
};

// The posterior q(z | x) = N(mean, exp(logvar)): (N, latent_channels, h, w) each; logvar clamped
// to [-30, 20] as diffusers does.
struct DiagonalGaussian {
  torch::Tensor mean, logvar;
  torch::Tensor std() const { return (0.5 * logvar).exp(); }
  torch::Tensor mode() const { return mean; }
  torch::Tensor sample(StepRandom& rng) const { return mean + std() * rng.randn_like(mean); }
  // KL(q || N(0, I)) per image: (N,).
  torch::Tensor kl() const { return 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum({1, 2, 3}); }
};

namespace detail {

// GroupNorm -> SiLU -> conv3x3 -> GroupNorm -> SiLU -> conv3x3, plus the input (through a 1x1
// convolution when the width changes).
class VaeResnetImpl : public torch::nn::Module {
 public:
  VaeResnetImpl(int64_t in, int64_t out, int64_t groups);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv_shortcut{nullptr};
};
TORCH_MODULE(VaeResnet);

// Single-head self-attention over the H*W positions, with a residual connection.
class VaeAttentionImpl : public torch::nn::Module {
 public:
  VaeAttentionImpl(int64_t channels, int64_t groups);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::GroupNorm group_norm{nullptr};
  torch::nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr};
  torch::nn::ModuleList to_out{nullptr};  // [Linear], so the key is to_out.0 as in diffusers
};
TORCH_MODULE(VaeAttention);

// The middle block: resnet, attention, resnet.
class VaeMidBlockImpl : public torch::nn::Module {
 public:
  VaeMidBlockImpl(int64_t channels, int64_t groups);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::ModuleList resnets{nullptr}, attentions{nullptr};
};
TORCH_MODULE(VaeMidBlock);

// A level's resampling convolution, held as `conv` (diffusers' Downsample2D / Upsample2D).
class VaeSamplerImpl : public torch::nn::Module {
 public:
  explicit VaeSamplerImpl(torch::nn::Conv2d c) { conv = register_module("conv", c); }
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(VaeSampler);

// One level: resnet blocks, then an optional 2x down- or upsampling convolution.
class VaeLevelImpl : public torch::nn::Module {
 public:
  VaeLevelImpl(int64_t in, int64_t out, int64_t blocks, int64_t groups, const std::string& resample);
  torch::Tensor forward(torch::Tensor x);

 private:
  std::string resample_;  // "", "down" or "up"
  torch::nn::ModuleList resnets{nullptr}, samplers{nullptr};
};
TORCH_MODULE(VaeLevel);

class VaeEncoderImpl : public torch::nn::Module {
 public:
  explicit VaeEncoderImpl(const AutoencoderKLOptions& o);
  torch::Tensor forward(torch::Tensor x);  // (N, C, H, W) -> (N, 2 latent_channels, H/f, W/f)

 private:
  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  torch::nn::ModuleList down_blocks{nullptr};
  VaeMidBlock mid_block{nullptr};
  torch::nn::GroupNorm conv_norm_out{nullptr};
};
TORCH_MODULE(VaeEncoder);

class VaeDecoderImpl : public torch::nn::Module {
 public:
  explicit VaeDecoderImpl(const AutoencoderKLOptions& o);
  torch::Tensor forward(torch::Tensor z);  // (N, latent_channels, h, w) -> (N, C, h f, w f)
  const torch::Tensor& last_layer_weight() const { return conv_out->weight; }

 private:
  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  torch::nn::ModuleList up_blocks{nullptr};
  VaeMidBlock mid_block{nullptr};
  torch::nn::GroupNorm conv_norm_out{nullptr};
};
TORCH_MODULE(VaeDecoder);

}  // namespace detail

// A Network, not a Backbone: method vae trains it (methods/vae.h), and latent models use its
// encode and decode (training/latent_codec.h).
class AutoencoderKL : public Network {
 public:
  explicit AutoencoderKL(const AutoencoderKLOptions& options);

  DiagonalGaussian encode(const torch::Tensor& x);
  torch::Tensor decode(const torch::Tensor& z);
  // The latents a diffusion model sees, and back: (z - shift) * scaling, l / scaling + shift.
  torch::Tensor to_latents(const torch::Tensor& z) const;
  torch::Tensor from_latents(const torch::Tensor& latents) const;

  // x through the posterior's mean and back: (N, C, H, W) -> (N, C, H, W).
  torch::Tensor reconstruct(const torch::Tensor& x);
  std::string type_name() const override { return "autoencoder_kl"; }
  const AutoencoderKLOptions& options() const { return options_; }
  // The decoder's last convolution: LDM's adaptive GAN weight compares gradient norms there.
  const torch::Tensor& last_layer_weight() const { return decoder->last_layer_weight(); }

 private:
  AutoencoderKLOptions options_;
  detail::VaeEncoder encoder{nullptr};
  detail::VaeDecoder decoder{nullptr};
  torch::nn::Conv2d quant_conv{nullptr}, post_quant_conv{nullptr};
};

// Weights named as other tools name them, renamed to flowlab's (diffusers') names: CompVis/LDM
// names (encoder.down.0.block.0..., also inside a whole Stable Diffusion checkpoint under
// first_stage_model.), and diffusers' older attention names (query, key, value, proj_attn).
// Attention weights stored as 1x1 convolutions become matrices; the LDM training loss's tensors
// (loss.*) and everything outside the autoencoder in a whole checkpoint are dropped.
// `levels`: block_out_channels.size(), to reverse LDM's decoder level order.
std::map<std::string, torch::Tensor> diffusers_vae_names(const std::map<std::string, torch::Tensor>& weights,
                                                        int64_t levels);

// The sizes in a diffusers config.json (block_out_channels, layers_per_block, latent_channels,
// norm_num_groups, in_channels, scaling_factor, shift_factor). Throws Error naming the file.
AutoencoderKLOptions read_diffusers_vae_config(const std::string& path);

// The options of the config's vae section (model.in_channels for the images' channels).
AutoencoderKLOptions vae_options(const Config& config);
// model.type autoencoder_kl, sized by the config's vae section; trained by method vae.
NetworkEntry autoencoder_kl_entry();

}  // namespace flowlab
