#include "flowlab/models/tiny_unet.h"

#include <numeric>

#include "flowlab/config.h"
#include "flowlab/error.h"
#include "flowlab/models/activation_checkpoint.h"
#include "flowlab/models/attention.h"
#include "flowlab/models/dual_layers.h"

namespace flowlab {
namespace detail {
namespace {

namespace nn = torch::nn;

nn::GroupNorm group_norm(int64_t channels) {
  return nn::GroupNorm(nn::GroupNormOptions(std::gcd<int64_t>(channels, 32), channels));
}

// GroupNorm in its weights' precision, so bf16 activations under autocast are normalised in fp32
// (LibTorch 1.13's CPU group_norm also requires input and weights of one dtype). A dual tensor
// (MeanFlow's JVP; forward-mode AD has one level, 0) goes in as NCHW: LibTorch's forward-mode
// GroupNorm formula views its input as NCHW and fails on channels-last activations.
torch::Tensor normalize(nn::GroupNorm& norm, const torch::Tensor& x) {
  auto in = x.to(norm->weight.scalar_type());
  const auto& tangent = in._fw_grad(0);
  if (tangent.defined() && !(in.is_contiguous() && tangent.is_contiguous()))
    in = in.clone(at::MemoryFormat::Contiguous);
  return norm(in);
}

Jet group_norm(nn::GroupNorm& norm, const Jet& x) {
  return jet::group_norm(norm, x, [&](const torch::Tensor& v) { return normalize(norm, v); });
}

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2));
}

// Output layers of residual paths start at zero so each block starts as the identity
// (Ho et al. 2020 / guided-diffusion `zero_module`).
void zero_init(nn::Conv2d& c) {
  torch::NoGradGuard no_grad;
  c->weight.zero_();
  if (c->bias.defined()) c->bias.zero_();
}

}  // namespace

ResBlockImpl::ResBlockImpl(int64_t in_ch, int64_t out_ch, int64_t cond_dim, double dropout) {
  norm1 = register_module("norm1", group_norm(in_ch));
  conv1 = register_module("conv1", conv(in_ch, out_ch, 3));
  cond_proj = register_module("cond_proj", nn::Linear(cond_dim, 2 * out_ch));
  norm2 = register_module("norm2", group_norm(out_ch));
  drop = register_module("dropout", nn::Dropout(dropout));
  conv2 = register_module("conv2", conv(out_ch, out_ch, 3));
  zero_init(conv2);
  if (in_ch != out_ch) skip = register_module("skip", conv(in_ch, out_ch, 1));
}

Jet ResBlockImpl::forward(const Jet& x, const Jet& cond) {
  auto h = jet::conv(conv1, jet::silu(group_norm(norm1, x)));
  // Scale-shift after the norm, so per-channel conditioning survives GroupNorm's centring.
  auto scale_shift = jet::chunk(
      jet::map(jet::linear(cond_proj, jet::silu(cond)), [](const torch::Tensor& s) { return s.unsqueeze(-1).unsqueeze(-1); }),
      2, 1);
  auto one_plus_scale = Jet(1 + scale_shift[0].value, scale_shift[0].tangent);
  h = jet::add(jet::mul(group_norm(norm2, h), one_plus_scale), scale_shift[1]);
  h = jet::conv(conv2, jet::dropout(jet::silu(h), drop->options.p(), is_training()));
  return jet::add(skip ? jet::conv(skip, x) : x, h);
}

AttentionBlockImpl::AttentionBlockImpl(int64_t channels, int64_t num_heads) : num_heads_(num_heads) {
  norm = register_module("norm", group_norm(channels));
  qkv = register_module("qkv", conv(channels, 3 * channels, 1));
  proj = register_module("proj", conv(channels, channels, 1));
  zero_init(proj);
}

Jet AttentionBlockImpl::forward(const Jet& x) {
  int64_t n = x.value.size(0), c = x.value.size(1), h = x.value.size(2), w = x.value.size(3);
  int64_t d = c / num_heads_;
  // (N, 3C, H, W) -> 3 x (N, heads, HW, d)
  auto qkv_t = jet::map(jet::conv(qkv, group_norm(norm, x)), [&](const torch::Tensor& a) {
    return a.reshape({n, 3, num_heads_, d, h * w}).permute({1, 0, 2, 4, 3});
  });
  auto part = [&](int64_t i) { return jet::map(qkv_t, [i](const torch::Tensor& a) { return a[i]; }); };
  auto out = jet::map(jet::attention(part(0), part(1), part(2)),
                      [&](const torch::Tensor& a) { return a.permute({0, 1, 3, 2}).reshape({n, c, h, w}); });
  return jet::add(x, jet::conv(proj, out));
}

}  // namespace detail

TinyUNet::TinyUNet(const TinyUNetOptions& options) : options_(options) {
  using namespace detail;
  const auto& o = options_;
  int64_t cond = o.time_embed_dim;
  time_embed = register_module("time_embed", TimestepEmbedder(o.time_embed_dim, cond));
  check_time_pair(o.time_pair);
  if (o.time_pair == "t,t-r")
    interval_embed = register_module("interval_embed", TimestepEmbedder(o.time_embed_dim, cond));
  if (o.guidance_inputs) {
    TORCH_CHECK(!o.time_pair.empty(), "guidance inputs are for the two-time TinyUNet");
    guidance_embed = register_module("guidance_embed", GuidanceEmbedder(o.time_embed_dim, cond));
  }
  class_embed = register_module("class_embed", torch::nn::Embedding(o.num_classes + 1, cond));
  conv_in = register_module("conv_in", detail::conv(o.in_channels, o.base_channels, 3));

  auto wants_attention = [&](int64_t resolution) {
    return std::find(o.attention_resolutions.begin(), o.attention_resolutions.end(), resolution) !=
           o.attention_resolutions.end();
  };

  int64_t levels = static_cast<int64_t>(o.channel_mults.size());
  int64_t ch = o.base_channels;
  std::vector<int64_t> skip_channels{ch};
  auto down_list = register_module("down", torch::nn::ModuleList());
  for (int64_t l = 0; l < levels; ++l) {
    UNetLevel level;
    int64_t out = o.base_channels * o.channel_mults[l];
    bool attn = wants_attention(o.image_size >> l);
    level->res_list = level->register_module("res", torch::nn::ModuleList());
    if (attn) level->attn_list = level->register_module("attn", torch::nn::ModuleList());
    for (int64_t j = 0; j < o.num_res_blocks; ++j) {
      level->res.push_back(ResBlock(ch, out, cond, o.dropout));
      level->res_list->push_back(level->res.back());
      ch = out;
      if (attn) {
        level->attn.push_back(AttentionBlock(ch, o.num_heads));
        level->attn_list->push_back(level->attn.back());
      }
      skip_channels.push_back(ch);
    }
    if (l != levels - 1) {
      level->resample = level->register_module("downsample", detail::conv(ch, ch, 3, 2));
      skip_channels.push_back(ch);
    }
    down_list->push_back(level);
    down_levels.push_back(level);
  }

  mid_res1 = register_module("mid_res1", ResBlock(ch, ch, cond, o.dropout));
  mid_attn = register_module("mid_attn", AttentionBlock(ch, o.num_heads));
  mid_res2 = register_module("mid_res2", ResBlock(ch, ch, cond, o.dropout));

  auto up_list = register_module("up", torch::nn::ModuleList());
  for (int64_t l = levels - 1; l >= 0; --l) {
    UNetLevel level;
    int64_t out = o.base_channels * o.channel_mults[l];
    bool attn = wants_attention(o.image_size >> l);
    level->res_list = level->register_module("res", torch::nn::ModuleList());
    if (attn) level->attn_list = level->register_module("attn", torch::nn::ModuleList());
    for (int64_t j = 0; j <= o.num_res_blocks; ++j) {
      level->res.push_back(ResBlock(ch + skip_channels.back(), out, cond, o.dropout));
      level->res_list->push_back(level->res.back());
      skip_channels.pop_back();
      ch = out;
      if (attn) {
        level->attn.push_back(AttentionBlock(ch, o.num_heads));
        level->attn_list->push_back(level->attn.back());
      }
    }
    if (l != 0) level->resample = level->register_module("upsample", detail::conv(ch, ch, 3));
    up_list->push_back(level);
    up_levels.push_back(level);
  }

  out_norm = register_module("out_norm", detail::group_norm(ch));
  out_conv = register_module("out_conv", detail::conv(ch, o.in_channels, 3));
  detail::zero_init(out_conv);
}

Jet TinyUNet::embed(const Jet& t, const torch::Tensor& y) {
  return jet::add(time_embed(t), Jet(class_embed(y)));
}

torch::Tensor TinyUNet::forward(const torch::Tensor& x, const torch::Tensor& t,
                                const torch::Tensor& y) {
  return forward_with_cond(Jet(x), embed(Jet(t), y)).value;
}

Jet TinyUNet::forward_interval_jet(const Jet& x, const torch::Tensor& r, const Jet& t, const torch::Tensor& y,
                                   const torch::Tensor& guidance) {
  TORCH_CHECK(two_time(), "tiny_unet takes one time; use tiny_unet_meanflow");
  auto cond = embed(t, y);
  // (t, t - r): the paper's choice; (r, t): time_mlp(emb(r)) + time_mlp(emb(t)) with one embedder.
  cond = jet::add(cond, detail::second_time_embedding(options_.time_pair, time_embed, interval_embed, r, t));
  if (guidance_embed)
    cond = jet::add(cond, Jet(guidance_embed(guidance.defined() ? guidance
                                                                : detail::unguided_inputs(r.size(0), r.options()))));
  return forward_with_cond(x, cond);
}

Jet TinyUNet::forward_with_cond(const Jet& x, const Jet& cond) {
  const bool on = checkpointing();
  std::vector<Jet> skips;
  auto h = jet::conv(conv_in, x);
  skips.push_back(h);
  for (auto& level : down_levels) {
    for (size_t j = 0; j < level->res.size(); ++j) {
      h = call_block(on, level->res[j], h, cond);
      if (!level->attn.empty()) h = call_block(on, level->attn[j], h);
      skips.push_back(h);
    }
    if (level->resample) {
      h = jet::conv(level->resample, h);
      skips.push_back(h);
    }
  }
  h = call_block(on, mid_res2, call_block(on, mid_attn, call_block(on, mid_res1, h, cond)), cond);
  for (auto& level : up_levels) {
    for (size_t j = 0; j < level->res.size(); ++j) {
      h = call_block(on, level->res[j], jet::cat({h, skips.back()}, 1), cond);
      skips.pop_back();
      if (!level->attn.empty()) h = call_block(on, level->attn[j], h);
    }
    if (level->resample) {
      h = jet::map(h, [](const torch::Tensor& a) {
        return torch::nn::functional::interpolate(
            a, torch::nn::functional::InterpolateFuncOptions()
                   .scale_factor(std::vector<double>{2.0, 2.0})
                   .mode(torch::kNearest));
      });
      h = jet::conv(level->resample, h);
    }
  }
  auto dtype = x.value.scalar_type();  // fp32 under bf16 autocast too
  return jet::map(jet::conv(out_conv, jet::silu(detail::group_norm(out_norm, h))),
                  [dtype](const torch::Tensor& a) { return a.to(dtype); });
}

namespace {

std::vector<int64_t> to_int64(const std::vector<int>& v) { return {v.begin(), v.end()}; }

TinyUNetOptions tiny_unet_options(const Config& c) {
  TinyUNetOptions o;
  o.in_channels = c.model.in_channels;
  o.image_size = c.data.image_size;
  o.base_channels = c.model.base_channels;
  o.channel_mults = to_int64(c.model.channel_mults);
  o.num_res_blocks = c.model.num_res_blocks;
  o.time_embed_dim = c.model.time_embed_dim;
  o.num_classes = c.model.num_classes;
  o.dropout = c.model.dropout;
  o.attention_resolutions = to_int64(c.model.attention_resolutions);
  o.num_heads = c.model.num_heads;
  return o;
}

void check_tiny_unet(const Config& config) {
  const auto& m = config.model;
  int levels = static_cast<int>(m.channel_mults.size());
  int factor = 1 << (levels - 1);
  if (config.data.image_size % factor != 0)
    throw Error("config: model.channel_mults has " + std::to_string(levels) +
                " levels, so data.image_size must be divisible by " + std::to_string(factor) +
                " (got " + std::to_string(config.data.image_size) + ")");
  for (int res : m.attention_resolutions) {
    bool found = false;
    for (int l = 0; l < levels; ++l) found |= (config.data.image_size >> l) == res;
    if (!found)
      throw Error("config: model.attention_resolutions contains " + std::to_string(res) +
                  ", which is not a UNet resolution for data.image_size " +
                  std::to_string(config.data.image_size));
  }
  for (int mult : m.channel_mults)
    if ((m.base_channels * mult) % m.num_heads != 0)
      throw Error("config: model.num_heads = " + std::to_string(m.num_heads) +
                  " must divide every level's channels (base_channels * channel_mults)");
}

}  // namespace

NetworkEntry tiny_unet_entry() {
  NetworkEntry e;
  e.name = e.one_time_form = "tiny_unet";
  e.two_time_form = "tiny_unet_meanflow";
  e.check = check_tiny_unet;
  e.make = [](const Config& c, bool) -> BackbonePtr { return std::make_shared<TinyUNet>(tiny_unet_options(c)); };
  return e;
}

NetworkEntry tiny_unet_meanflow_entry() {
  auto e = tiny_unet_entry();
  e.name = "tiny_unet_meanflow";
  e.make = [](const Config& c, bool) -> BackbonePtr {
    auto o = tiny_unet_options(c);
    o.time_pair = c.model.time_pair;
    o.guidance_inputs = c.method.name == "meanflow" && c.meanflow.guidance_conditioning;
    return std::make_shared<TinyUNet>(o);
  };
  return e;
}

}  // namespace flowlab
