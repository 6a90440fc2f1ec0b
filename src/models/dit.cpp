#include "flowlab/models/dit.h"

#include <cmath>

#include "flowlab/config.h"
#include "flowlab/error.h"
#include "flowlab/models/activation_checkpoint.h"
#include "flowlab/models/attention.h"
#include "flowlab/models/dual_layers.h"

namespace flowlab {
namespace nn = torch::nn;

const std::vector<DiTSize>& dit_sizes() {
  // Peebles & Xie 2023, Table 1 (depth, width, heads); patch sizes 2 and 4 (8 makes 16 tokens
  // at 32x32). DiT-T is flowlab's tiny size for tests and smoke runs.
  static const std::vector<DiTSize> sizes = {
      {"DiT-T/2", 2, 64, 4, 2},       {"DiT-S/2", 12, 384, 6, 2},   {"DiT-S/4", 12, 384, 6, 4},
      {"DiT-B/2", 12, 768, 12, 2},    {"DiT-B/4", 12, 768, 12, 4},  {"DiT-L/2", 24, 1024, 16, 2},
      {"DiT-L/4", 24, 1024, 16, 4},   {"DiT-XL/2", 28, 1152, 16, 2},
  };
  return sizes;
}

const DiTSize& find_dit_size(const std::string& name) {
  for (const auto& s : dit_sizes())
    if (s.name == name) return s;
  std::string known;
  for (const auto& s : dit_sizes()) known += " " + s.name;
  throw Error("unknown model.variant '" + name + "' for model.type dit (known:" + known + ")");
}

DiTOptions dit_options(const DiTSize& size) {
  DiTOptions o;
  o.depth = size.depth;
  o.hidden_size = size.hidden_size;
  o.num_heads = size.num_heads;
  o.patch_size = size.patch_size;
  return o;
}

torch::Tensor patchify(const torch::Tensor& x, int64_t p) {
  int64_t n = x.size(0), c = x.size(1), h = x.size(2) / p, w = x.size(3) / p;
  // (N, C, h, p, w, q) -> (N, h, w, p, q, C)
  return x.reshape({n, c, h, p, w, p}).permute({0, 2, 4, 3, 5, 1}).reshape({n, h * w, p * p * c});
}

torch::Tensor unpatchify(const torch::Tensor& tokens, int64_t p, int64_t channels) {
  int64_t n = tokens.size(0);
  auto grid = static_cast<int64_t>(std::lround(std::sqrt(double(tokens.size(1)))));
  // (N, h, w, p, q, C) -> (N, C, h, p, w, q)
  return tokens.reshape({n, grid, grid, p, p, channels})
      .permute({0, 5, 1, 3, 2, 4})
      .reshape({n, channels, grid * p, grid * p});
}

torch::Tensor sincos_position_embedding_2d(int64_t dim, int64_t grid) {
  // 1D: pos -> [sin(pos w_k) | cos(pos w_k)], w_k = 10000^(-k / (dim/4)), k < dim/4.
  auto one_axis = [&](const torch::Tensor& pos) {
    int64_t quarter = dim / 4;
    auto omega = torch::pow(10000.0, -torch::arange(quarter, torch::kFloat64) / double(quarter));
    auto args = pos.unsqueeze(1) * omega.unsqueeze(0);
    return torch::cat({torch::sin(args), torch::cos(args)}, 1);
  };
  auto idx = torch::arange(grid * grid, torch::kFloat64);
  auto row = torch::floor(idx / grid), col = idx - row * grid;
  return torch::cat({one_axis(col), one_axis(row)}, 1).to(torch::kFloat32);
}

namespace detail {
namespace {

nn::Linear xavier_linear(int64_t in, int64_t out) {
  nn::Linear l(in, out);
  nn::init::xavier_uniform_(l->weight);
  nn::init::zeros_(l->bias);
  return l;
}

// adaLN-Zero (Peebles & Xie 2023, Sec. 3.2): the modulation regressors start at zero, so every
// block starts as the identity and the gates open during training.
nn::Linear zero_linear(int64_t in, int64_t out) {
  nn::Linear l(in, out);
  nn::init::zeros_(l->weight);
  nn::init::zeros_(l->bias);
  return l;
}

nn::LayerNorm plain_layer_norm(int64_t dim) {
  return nn::LayerNorm(nn::LayerNormOptions({dim}).elementwise_affine(false).eps(1e-6));
}

// x: (N, T, D); shift, scale: (N, D)
Jet modulate(const Jet& x, const Jet& shift, const Jet& scale) {
  auto tokens = [](const torch::Tensor& a) { return a.unsqueeze(1); };
  auto one_plus_scale = jet::map(scale, tokens);
  one_plus_scale.value = 1 + one_plus_scale.value;
  return jet::add(jet::mul(x, one_plus_scale), jet::map(shift, tokens));
}

Jet layer_norm(nn::LayerNorm& norm, const Jet& x) { return jet::layer_norm(x, norm->options.eps()); }

}  // namespace

TokenAttentionImpl::TokenAttentionImpl(int64_t dim, int64_t num_heads) : num_heads_(num_heads) {
  qkv = register_module("qkv", xavier_linear(dim, 3 * dim));
  proj = register_module("proj", xavier_linear(dim, dim));
}

Jet TokenAttentionImpl::forward(const Jet& x) {
  int64_t n = x.value.size(0), tokens = x.value.size(1), dim = x.value.size(2), d = dim / num_heads_;
  // (N, T, 3D) -> 3 x (N, heads, T, d)
  auto qkv_t = jet::map(jet::linear(qkv, x), [&](const torch::Tensor& a) {
    return a.reshape({n, tokens, 3, num_heads_, d}).permute({2, 0, 3, 1, 4});
  });
  auto part = [&](int64_t i) { return jet::map(qkv_t, [i](const torch::Tensor& a) { return a[i]; }); };
  auto out = jet::attention(part(0), part(1), part(2));
  return jet::linear(proj, jet::map(out, [&](const torch::Tensor& a) { return a.transpose(1, 2).reshape({n, tokens, dim}); }));
}

DiTBlockImpl::DiTBlockImpl(int64_t dim, int64_t num_heads, int64_t mlp_ratio) {
  norm1 = register_module("norm1", plain_layer_norm(dim));
  attn = register_module("attn", TokenAttention(dim, num_heads));
  norm2 = register_module("norm2", plain_layer_norm(dim));
  fc1 = register_module("fc1", xavier_linear(dim, mlp_ratio * dim));
  fc2 = register_module("fc2", xavier_linear(mlp_ratio * dim, dim));
  adaLN_modulation = register_module("adaLN_modulation", zero_linear(dim, 6 * dim));
}

Jet DiTBlockImpl::forward(const Jet& x, const Jet& c) {
  // shift/scale/gate for attention, then for the MLP; each (N, D)
  auto m = jet::chunk(jet::linear(adaLN_modulation, jet::silu(c)), 6, 1);
  auto gate = [&](int64_t i) { return jet::map(m[i], [](const torch::Tensor& a) { return a.unsqueeze(1); }); };
  auto h = jet::add(x, jet::mul(gate(2), attn(modulate(layer_norm(norm1, x), m[0], m[1]))));
  auto mlp = jet::linear(fc2, jet::gelu_tanh(jet::linear(fc1, modulate(layer_norm(norm2, h), m[3], m[4]))));
  return jet::add(h, jet::mul(gate(5), mlp));
}

}  // namespace detail

DiT::DiT(const DiTOptions& options) : options_(options) {
  const auto& o = options_;
  TORCH_CHECK(o.image_size % o.patch_size == 0, "DiT patch size ", o.patch_size,
              " must divide the image size ", o.image_size);
  TORCH_CHECK(o.hidden_size % o.num_heads == 0 && o.hidden_size % 4 == 0, "DiT hidden size ",
              o.hidden_size, " must be a multiple of 4 and of the head count ", o.num_heads);
  detail::check_time_pair(o.time_pair);
  const int64_t out_channels = o.learn_sigma ? 2 * o.in_channels : o.in_channels;
  int64_t dim = o.hidden_size, patch_features = o.patch_size * o.patch_size * o.in_channels;
  int64_t grid = o.image_size / o.patch_size;

  patch_embed = register_module("patch_embed", detail::xavier_linear(patch_features, dim));
  pos_embed = register_buffer("pos_embed", sincos_position_embedding_2d(dim, grid).unsqueeze(0));
  t_embedder = register_module("t_embedder", detail::TimestepEmbedder(o.frequency_dim, dim));
  if (o.time_pair == "t,t-r")
    interval_embedder =
        register_module("interval_embedder", detail::TimestepEmbedder(o.frequency_dim, dim));
  y_embedder = register_module("y_embedder", nn::Embedding(o.num_classes + 1, dim));
  if (o.guidance_inputs) {
    TORCH_CHECK(!o.time_pair.empty(), "guidance inputs are for the two-time DiT");
    guidance_embedder = register_module("guidance_embedder", detail::GuidanceEmbedder(o.frequency_dim, dim));
  }

  // DiT's initialisation: N(0, 0.02) for the class table and the time MLPs.
  {
    torch::NoGradGuard no_grad;
    y_embedder->weight.normal_(0.0, 0.02);
    for (auto& embedder : {t_embedder, interval_embedder}) {
      if (!embedder) continue;
      for (auto& p : embedder->named_parameters())
        if (p.key().find("weight") != std::string::npos) p.value().normal_(0.0, 0.02);
    }
  }

  auto block_list = register_module("blocks", nn::ModuleList());
  for (int64_t i = 0; i < o.depth; ++i) {
    blocks.push_back(detail::DiTBlock(dim, o.num_heads, o.mlp_ratio));
    block_list->push_back(blocks.back());
  }
  final_norm = register_module("final_norm", detail::plain_layer_norm(dim));
  // adaLN-Zero: the final modulation and the output projection start at zero, so the network
  // outputs exactly zero at initialisation (Peebles & Xie 2023, Sec. 3.2).
  final_adaLN = register_module("final_adaLN", detail::zero_linear(dim, 2 * dim));
  final_linear = register_module("final_linear",
                                  detail::zero_linear(dim, o.patch_size * o.patch_size * out_channels));
}

torch::Tensor DiT::embedder_time(const torch::Tensor& t) const {
  const auto& c = options_.convention;
  if (c == "dit") return (torch::round(t * 1000) - 1) / 1000;  // the step index of T = 1,000
  if (c == "sit") return (1 - t) / 1000;                      // SiT's time, unscaled
  if (c == "repa") return t / 1000;                           // unscaled
  return t;
}

Jet DiT::flowlab_output(const Jet& out) const {
  const auto& o = options_;
  if (o.convention == "dit") return out;  // epsilon [, variance]: the DDPM method reads both
  auto first = [&](const torch::Tensor& a) { return o.learn_sigma ? a.slice(1, 0, o.in_channels) : a; };
  if (o.convention == "sit") return jet::map(out, [&](const torch::Tensor& a) { return -first(a); });
  return jet::map(out, first);
}

torch::Tensor DiT::forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
  auto c = jet::add(t_embedder(Jet(embedder_time(t))), Jet(y_embedder(y)));
  return flowlab_output(forward_with_cond(Jet(x), c)).value;
}

Jet DiT::forward_interval_jet(const Jet& x, const torch::Tensor& r, const Jet& t, const torch::Tensor& y,
                              const torch::Tensor& guidance) {
  TORCH_CHECK(!options_.time_pair.empty(), "this DiT takes one time; MeanFlow builds it with two");
  auto c = jet::add(t_embedder(t), Jet(y_embedder(y)));
  // (t, t - r): the MeanFlow paper's DiT; (r, t): one shared embedder.
  c = jet::add(c, detail::second_time_embedding(options_.time_pair, t_embedder, interval_embedder, r, t));
  if (guidance_embedder)
    c = jet::add(c, Jet(guidance_embedder(guidance.defined() ? guidance
                                                              : detail::unguided_inputs(r.size(0), r.options()))));
  return flowlab_output(forward_with_cond(x, c));
}

Jet DiT::forward_with_cond(const Jet& x, const Jet& c) {
  const int64_t p = options_.patch_size,
                channels = options_.learn_sigma ? 2 * options_.in_channels : options_.in_channels;
  auto h = jet::linear(patch_embed, jet::map(x, [p](const torch::Tensor& a) { return patchify(a, p); }));
  h.value = h.value + pos_embed.to(x.value.dtype());
  for (auto& block : blocks) h = call_block(checkpointing(), block, h, c);
  auto m = jet::chunk(jet::linear(final_adaLN, jet::silu(c)), 2, 1);  // shift, scale
  h = jet::linear(final_linear, detail::modulate(detail::layer_norm(final_norm, h), m[0], m[1]));
  auto dtype = x.value.scalar_type();  // fp32 under bf16 autocast too
  return jet::map(h, [&](const torch::Tensor& a) { return unpatchify(a, p, channels).to(dtype); });
}

DiTSize dit_size(const ModelConfig& m) {
  if (m.hidden_size == 0 && m.depth == 0 && m.patch_size == 0)
    return find_dit_size(m.variant.empty() ? kDefaultDiTSize : m.variant);
  if (!m.variant.empty())
    throw Error("config: model.variant " + m.variant + " and model.hidden_size/depth/patch_size both give "
                "the DiT's size; set one of the two");
  if (m.hidden_size == 0 || m.depth == 0)
    throw Error("config: a DiT sized without model.variant needs model.hidden_size and model.depth");
  if (m.hidden_size % m.num_heads != 0 || m.hidden_size % 4 != 0)
    throw Error("config: model.hidden_size = " + std::to_string(m.hidden_size) +
                " must be a multiple of 4 and of model.num_heads = " + std::to_string(m.num_heads));
  int64_t patch = m.patch_size == 0 ? 2 : m.patch_size;
  return {"DiT (hidden " + std::to_string(m.hidden_size) + ", depth " + std::to_string(m.depth) + ", " +
              std::to_string(m.num_heads) + " heads, patch " + std::to_string(patch) + ")",
          m.depth, m.hidden_size, m.num_heads, patch};
}

NetworkEntry dit_entry() {
  auto check = [](const Config& c) {
    auto size = dit_size(c.model);
    if (c.data.image_size % size.patch_size != 0)
      throw Error("config: " + size.name + " has patch size " + std::to_string(size.patch_size) +
                  ", which does not divide data.image_size " + std::to_string(c.data.image_size));
  };
  // One type for every method: a two-time method gets the second time embedder (model.time_pair).
  auto make = [](const Config& c, bool two_time) -> BackbonePtr {
    auto o = dit_options(dit_size(c.model));
    o.in_channels = c.model.in_channels;
    o.image_size = c.data.image_size;
    o.num_classes = c.model.num_classes;
    o.convention = c.model.convention;
    o.learn_sigma = c.model.learn_sigma;
    if (two_time) o.time_pair = c.model.time_pair;
    o.guidance_inputs = two_time && c.method.name == "meanflow" && c.meanflow.guidance_conditioning;
    return std::make_shared<DiT>(o);
  };
  NetworkEntry e;
  e.name = e.one_time_form = e.two_time_form = "dit";
  e.check = check;
  e.make = make;
  return e;
}

}  // namespace flowlab
