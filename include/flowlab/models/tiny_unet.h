// TinyUNet: a class-conditional U-Net (Ho et al. 2020 layout, scaled down).
// Sinusoidal time embedding + MLP, a learned class embedding with a null class for CFG,
// GroupNorm/SiLU residual blocks conditioned on time + class, self-attention at chosen
// resolutions, skip connections between matching levels.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "flowlab/models/backbone.h"
#include "flowlab/models/embeddings.h"
#include "flowlab/models/registry.h"

namespace flowlab {

struct TinyUNetOptions {
  int64_t in_channels = 3;
  int64_t image_size = 32;
  int64_t base_channels = 64;
  std::vector<int64_t> channel_mults{1, 2, 4};
  int64_t num_res_blocks = 2;
  int64_t time_embed_dim = 128;
  int64_t num_classes = 10;
  double dropout = 0.1;
  std::vector<int64_t> attention_resolutions{8};
  int64_t num_heads = 4;
  // Two-time variant (TinyUNetMeanFlow): "" = one time; "t,t-r" embeds t and t - r with two
  // embedders (Geng et al. 2025); "r,t" embeds r and t with one shared embedder.
  std::string time_pair;
  bool guidance_inputs = false;  // two-time only: meanflow.guidance_conditioning's (omega, t_min, t_max)
};

namespace detail {

// GroupNorm -> SiLU -> conv3x3 -> GroupNorm * (1 + scale) + shift, with (scale, shift) =
// Linear(SiLU(cond)) -> SiLU -> Dropout -> conv3x3, + skip (Nichol & Dhariwal 2021,
// "use_scale_shift_norm").
class ResBlockImpl : public torch::nn::Module {
 public:
  ResBlockImpl(int64_t in_ch, int64_t out_ch, int64_t cond_dim, double dropout);
  // x: (N, in_ch, H, W), cond: (N, cond_dim) -> (N, out_ch, H, W)
  Jet forward(const Jet& x, const Jet& cond);

 private:
  torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, skip{nullptr};
  torch::nn::Linear cond_proj{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(ResBlock);

// Multi-head self-attention over the H*W positions, written as matmul + softmax so that
// forward-mode AD (MeanFlow's JVP) passes through it.
class AttentionBlockImpl : public torch::nn::Module {
 public:
  AttentionBlockImpl(int64_t channels, int64_t num_heads);
  Jet forward(const Jet& x);  // (N, C, H, W) -> (N, C, H, W)

 private:
  int64_t num_heads_;
  torch::nn::GroupNorm norm{nullptr};
  torch::nn::Conv2d qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(AttentionBlock);

// One resolution of the U-Net: residual blocks, optional attention after each, optional resampling.
class UNetLevelImpl : public torch::nn::Module {
 public:
  std::vector<ResBlock> res;
  std::vector<AttentionBlock> attn;  // empty, or one per residual block
  torch::nn::Conv2d resample{nullptr};
  torch::nn::ModuleList res_list, attn_list;
};
TORCH_MODULE(UNetLevel);

}  // namespace detail

class TinyUNet : public Backbone, public IntervalBackbone {
 public:
  explicit TinyUNet(const TinyUNetOptions& options);

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t,
                        const torch::Tensor& y) override;
  IntervalBackbone* interval() override { return two_time() ? this : nullptr; }
  Jet forward_interval_jet(const Jet& x, const torch::Tensor& r, const Jet& t, const torch::Tensor& y,
                           const torch::Tensor& guidance = {}) override;
  std::string second_time_module() const override { return interval_embed ? "interval_embed" : ""; }
  std::string guidance_module() const override { return guidance_embed ? "guidance_embed" : ""; }
  void zero_guidance() override {
    if (guidance_embed) guidance_embed->zero_output_layers();
  }
  void zero_second_time() override {
    if (interval_embed) interval_embed->zero_output_layer();
  }
  std::string type_name() const override {
    return two_time() ? "tiny_unet_meanflow" : "tiny_unet";
  }
  int64_t num_classes() const override { return options_.num_classes; }

 protected:
  // Adds a conditioning vector (N, cond_dim) for subclasses with more inputs.
  Jet forward_with_cond(const Jet& x, const Jet& cond);
  Jet embed(const Jet& t, const torch::Tensor& y);
  int64_t cond_dim() const { return options_.time_embed_dim; }
  bool two_time() const { return !options_.time_pair.empty(); }

  TinyUNetOptions options_;

 private:
  detail::TimestepEmbedder time_embed{nullptr}, interval_embed{nullptr};
  detail::GuidanceEmbedder guidance_embed{nullptr};
  torch::nn::Embedding class_embed{nullptr};
  torch::nn::Conv2d conv_in{nullptr}, out_conv{nullptr};
  torch::nn::GroupNorm out_norm{nullptr};
  std::vector<detail::UNetLevel> down_levels, up_levels;
  detail::ResBlock mid_res1{nullptr}, mid_res2{nullptr};
  detail::AttentionBlock mid_attn{nullptr};
};

// model.type tiny_unet (one time) and tiny_unet_meanflow (two times, model.time_pair).
NetworkEntry tiny_unet_entry();
NetworkEntry tiny_unet_meanflow_entry();

}  // namespace flowlab
