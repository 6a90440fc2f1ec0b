// DiT: the Diffusion Transformer of Peebles & Xie 2023 ("Scalable Diffusion Models with
// Transformers", arXiv 2212.09748) with adaLN-Zero blocks, as a flowlab backbone.
// Patchify (p x p patches -> tokens) + fixed 2D sin-cos position embedding; time and class
// embeddings summed into the conditioning c; N blocks that regress shift/scale/gate from c;
// a final adaLN layer, linear, unpatchify.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "flowlab/models/backbone.h"
#include "flowlab/models/embeddings.h"
#include "flowlab/models/registry.h"

namespace flowlab {

struct ModelConfig;

// A named size: "DiT-S/2" = small width/depth, patch 2.
struct DiTSize {
  std::string name;
  int64_t depth;
  int64_t hidden_size;
  int64_t num_heads;
  int64_t patch_size;
};

// DiT-S/2 ... DiT-XL/2 from the paper's Table 1, plus "DiT-T/2" (tiny) for tests.
const std::vector<DiTSize>& dit_sizes();
// Throws Error listing the known names.
const DiTSize& find_dit_size(const std::string& name);
constexpr const char* kDefaultDiTSize = "DiT-S/2";
// The size a config gives: model.variant (default DiT-S/2), or model.hidden_size, model.depth,
// model.num_heads and model.patch_size (default 2) for a size without a name. Throws Error when
// both are given or the width does not split into the heads.
DiTSize dit_size(const ModelConfig& model);

struct DiTOptions {
  int64_t in_channels = 3;
  int64_t image_size = 32;
  int64_t patch_size = 2;
  int64_t hidden_size = 384;
  int64_t depth = 12;
  int64_t num_heads = 6;
  int64_t mlp_ratio = 4;
  int64_t num_classes = 10;
  int64_t frequency_dim = 256;  // sinusoidal features fed to the time MLP
  // "" = one time; "t,t-r" embeds t and t - r with two embedders (MeanFlow's DiT);
  // "r,t" embeds r and t with one shared embedder.
  std::string time_pair;
  bool guidance_inputs = false;  // two-time only: meanflow.guidance_conditioning's (omega, t_min, t_max)
  // A published network's time and output conventions (model.convention): "", dit, sit, repa.
  std::string convention;
  bool learn_sigma = false;  // 2 x in_channels outputs: the second half a variance
};

DiTOptions dit_options(const DiTSize& size);

// (N, C, H, W) -> (N, (H/p)(W/p), p*p*C), tokens in row-major patch order, each token's
// features ordered (row in patch, column in patch, channel) as DiT's unpatchify expects.
torch::Tensor patchify(const torch::Tensor& x, int64_t p);
// Inverse of patchify: (N, T, p*p*C) -> (N, C, H, W) with H = W = p sqrt(T).
torch::Tensor unpatchify(const torch::Tensor& tokens, int64_t p, int64_t channels);

// (grid*grid, dim) fixed 2D sin-cos position embedding (MAE / DiT): the first half of each row
// encodes the patch column, the second half the row.
torch::Tensor sincos_position_embedding_2d(int64_t dim, int64_t grid);

namespace detail {

// Multi-head self-attention on tokens as matmul + softmax, so forward-mode AD passes through.
class TokenAttentionImpl : public torch::nn::Module {
 public:
  TokenAttentionImpl(int64_t dim, int64_t num_heads);
  Jet forward(const Jet& x);  // (N, T, D) -> (N, T, D)

 private:
  int64_t num_heads_;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(TokenAttention);

// x + gate * Attn(modulate(LN(x))), then x + gate * MLP(modulate(LN(x))), with the six
// modulation vectors regressed from c; LayerNorm without affine; MLP tanh-GELU, ratio 4.
class DiTBlockImpl : public torch::nn::Module {
 public:
  DiTBlockImpl(int64_t dim, int64_t num_heads, int64_t mlp_ratio);
  Jet forward(const Jet& x, const Jet& c);  // (N,T,D), (N,D)

 private:
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  TokenAttention attn{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, adaLN_modulation{nullptr};
};
TORCH_MODULE(DiTBlock);

}  // namespace detail

class DiT : public Backbone, public IntervalBackbone {
 public:
  explicit DiT(const DiTOptions& options);

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t,
                        const torch::Tensor& y) override;
  IntervalBackbone* interval() override { return options_.time_pair.empty() ? nullptr : this; }
  Jet forward_interval_jet(const Jet& x, const torch::Tensor& r, const Jet& t, const torch::Tensor& y,
                           const torch::Tensor& guidance = {}) override;
  std::string second_time_module() const override { return interval_embedder ? "interval_embedder" : ""; }
  std::string guidance_module() const override { return guidance_embedder ? "guidance_embedder" : ""; }
  void zero_guidance() override {
    if (guidance_embedder) guidance_embedder->zero_output_layers();
  }
  void zero_second_time() override {
    if (interval_embedder) interval_embedder->zero_output_layer();
  }
  std::string type_name() const override { return "dit"; }
  int64_t num_classes() const override { return options_.num_classes; }
  const DiTOptions& options() const { return options_; }

 private:
  Jet forward_with_cond(const Jet& x, const Jet& c);
  // The input of the time embedder, whose sinusoid takes 1000 x it, for flowlab's time t (N,).
  torch::Tensor embedder_time(const torch::Tensor& t) const;
  // The network's output (N, out channels, H, W) in flowlab's convention.
  Jet flowlab_output(const Jet& out) const;

  DiTOptions options_;
  torch::nn::Linear patch_embed{nullptr}, final_linear{nullptr}, final_adaLN{nullptr};
  detail::TimestepEmbedder t_embedder{nullptr}, interval_embedder{nullptr};
  detail::GuidanceEmbedder guidance_embedder{nullptr};
  torch::nn::Embedding y_embedder{nullptr};
  torch::nn::LayerNorm final_norm{nullptr};
  std::vector<detail::DiTBlock> blocks;
  torch::Tensor pos_embed;  // buffer (1, T, D), not trained
};

// model.type dit, sized by dit_size(); two-time (model.time_pair) for MeanFlow.
NetworkEntry dit_entry();

}  // namespace flowlab
