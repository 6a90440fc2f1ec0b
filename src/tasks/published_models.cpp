#include "flowlab/tasks/published_models.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "flowlab/error.h"
#include "flowlab/io/sha256.h"
#include "flowlab/io/torch_file.h"
#include "flowlab/training/autoencoder_file.h"

namespace flowlab {
namespace {

// The sizes a published file's tensors give.
struct Architecture {
  int64_t width = 0, depth = 0, patch = 0, channels = 0, out_channels = 0, classes = 0, tokens = 0;
  int64_t frequencies = 0;
};

// One published tensor: its name, where it goes in flowlab's DiT, and its shape.
struct Mapping {
  std::string published, flowlab;
  std::vector<int64_t> shape;
};

// The one table from the authors' names to flowlab's (models/dit.h), with every shape the sizes give.
std::vector<Mapping> name_table(const Architecture& a) {
  const int64_t d = a.width, p = a.patch;
  std::vector<Mapping> table = {
      {"x_embedder.proj.weight", "patch_embed.weight", {d, a.channels, p, p}},  // a strided convolution
      {"x_embedder.proj.bias", "patch_embed.bias", {d}},
      {"pos_embed", "pos_embed", {1, a.tokens, d}},
      {"t_embedder.mlp.0.weight", "t_embedder.mlp.0.weight", {d, a.frequencies}},
      {"t_embedder.mlp.0.bias", "t_embedder.mlp.0.bias", {d}},
      {"t_embedder.mlp.2.weight", "t_embedder.mlp.2.weight", {d, d}},
      {"t_embedder.mlp.2.bias", "t_embedder.mlp.2.bias", {d}},
      {"y_embedder.embedding_table.weight", "y_embedder.weight", {a.classes + 1, d}},  // the null class last
      {"final_layer.linear.weight", "final_linear.weight", {p * p * a.out_channels, d}},
      {"final_layer.linear.bias", "final_linear.bias", {p * p * a.out_channels}},
      {"final_layer.adaLN_modulation.1.weight", "final_adaLN.weight", {2 * d, d}},
      {"final_layer.adaLN_modulation.1.bias", "final_adaLN.bias", {2 * d}},
  };
  for (int64_t i = 0; i < a.depth; ++i) {
    const auto b = "blocks." + std::to_string(i) + ".";
    std::vector<Mapping> block = {
        {"attn.qkv.weight", "attn.qkv.weight", {3 * d, d}},   {"attn.qkv.bias", "attn.qkv.bias", {3 * d}},
        {"attn.proj.weight", "attn.proj.weight", {d, d}},     {"attn.proj.bias", "attn.proj.bias", {d}},
        {"mlp.fc1.weight", "fc1.weight", {4 * d, d}},          {"mlp.fc1.bias", "fc1.bias", {4 * d}},
        {"mlp.fc2.weight", "fc2.weight", {d, 4 * d}},          {"mlp.fc2.bias", "fc2.bias", {d}},
        {"adaLN_modulation.1.weight", "adaLN_modulation.weight", {6 * d, d}},
        {"adaLN_modulation.1.bias", "adaLN_modulation.bias", {6 * d}},
    };
    for (auto& m : block) table.push_back({b + m.published, b + m.flowlab, m.shape});
  }
  return table;
}

// The head count of DiT's named sizes by width (Peebles & Xie 2023, Table 1).
int64_t named_heads(int64_t width) {
  switch (width) {
    case 384: return 6;    // S
    case 768: return 12;   // B
    case 1024: return 16;  // L
    case 1152: return 16;  // XL
    default: return 0;
  }
}

std::string shape_text(c10::IntArrayRef shape) { return c10::str(shape); }

// The tensor `name` of the file; Error naming it when it is missing.
const torch::Tensor& anchor(const std::map<std::string, torch::Tensor>& tensors, const std::string& name,
                            int64_t dims, const std::string& what) {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw Error(what + " has no tensor " + name + ": not a DiT or SiT state dict");
  if (it->second.dim() != dims)
    throw Error(what + ": " + name + " has shape " + shape_text(it->second.sizes()) + ", not " +
                std::to_string(dims) + " dimensions");
  return it->second;
}

Architecture read_architecture(const std::map<std::string, torch::Tensor>& tensors, const std::string& what) {
  Architecture a;
  const auto& patch = anchor(tensors, "x_embedder.proj.weight", 4, what);  // (D, C, p, p)
  a.width = patch.size(0);
  a.channels = patch.size(1);
  a.patch = patch.size(2);
  a.tokens = anchor(tensors, "pos_embed", 3, what).size(1);
  a.classes = anchor(tensors, "y_embedder.embedding_table.weight", 2, what).size(0) - 1;
  a.frequencies = anchor(tensors, "t_embedder.mlp.0.weight", 2, what).size(1);
  const int64_t outputs = anchor(tensors, "final_layer.linear.weight", 2, what).size(0);
  a.out_channels = a.patch > 0 ? outputs / (a.patch * a.patch) : 0;
  std::set<int64_t> blocks;
  for (const auto& [name, tensor] : tensors)
    if (name.rfind("blocks.", 0) == 0) {
      auto end = name.find('.', 7);
      try {
        blocks.insert(std::stoll(name.substr(7, end - 7)));
      } catch (const std::exception&) {
        throw Error(what + " has a tensor " + name + " whose block number is not a number");
      }
    }
  a.depth = static_cast<int64_t>(blocks.size());
  if (a.depth == 0 || *blocks.rbegin() != a.depth - 1)
    throw Error(what + ": its blocks are not numbered 0 to " + std::to_string(a.depth - 1));
  auto grid = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(a.tokens))));
  if (grid * grid != a.tokens) throw Error(what + ": pos_embed has " + std::to_string(a.tokens) + " tokens, not a square grid");
  if (a.out_channels != a.channels && a.out_channels != 2 * a.channels)
    throw Error(what + ": final_layer.linear gives " + std::to_string(outputs) + " outputs, neither " +
                std::to_string(a.patch * a.patch * a.channels) + " nor twice that (a learned variance)");
  if (a.classes < 1)
    throw Error(what + ": y_embedder.embedding_table has no row for the null class that guidance needs");
  return a;
}

void check_format(const std::string& format) {
  const auto& formats = published_formats();
  if (std::find(formats.begin(), formats.end(), format) == formats.end())
    throw Error("--format " + format + ": use dit, sit or repa");
}

// The sampling protocol each paper reports its FID with (docs/published-models.md).
void set_method(Config& c, const std::string& format, bool learn_sigma) {
  auto& s = c.sampling;
  s.cfg_scale = 1.5;
  s.steps = 250;
  s.cfg_channels = 3;  // the released samplers guide 3 of the 4 latent channels
  if (format == "dit") {
    c.method.name = "ddpm";
    c.ddpm.timesteps = 1000;
    c.ddpm.schedule = "linear";
    c.ddpm.prediction = "epsilon";
    c.ddpm.clip_denoised = false;
    c.ddpm.variance = learn_sigma ? "learned_range" : "fixed_small";
    s.sampler = "ddpm";
    return;
  }
  c.method.name = "cfm";
  s.sampler = "sde";
  s.sde_last_step = 0.04;  // SiT's and REPA's SDE: 249 noisy steps on [0.04, 1], then one noise-free
  if (format == "repa") {  // CFG 1.8 on t <= 0.7, every channel
    s.cfg_scale = 1.8;
    s.cfg_t_max = 0.7;
    s.cfg_channels = 0;
  }
}

void record_autoencoder(Config& c, const std::string& vae) {
  namespace fs = std::filesystem;
  auto path = fs::is_directory(vae) ? (fs::path(vae) / "diffusion_pytorch_model.safetensors").string() : vae;
  auto autoencoder = load_autoencoder(path);
  const auto& o = autoencoder->options();
  if (o.latent_channels != c.model.in_channels)
    throw Error("--vae " + vae + " makes " + std::to_string(o.latent_channels) + "-channel latents; the network takes " +
                std::to_string(c.model.in_channels));
  c.model.vae = fs::absolute(path).string();
  c.model.vae_sha256 = sha256_file(path);
  c.model.vae_scaling_factor = o.scaling_factor;
  c.model.vae_shift_factor = o.shift_factor;
}

}  // namespace

const std::vector<std::string>& published_formats() {
  static const std::vector<std::string> formats = {"dit", "sit", "repa"};
  return formats;
}


ImportedModel import_published_model(const ImportRequest& request) {
  check_format(request.format);
  std::string what = request.weights;
  auto file = read_torch_file(request.weights);
  // A training checkpoint (the authors' train.py) keeps the weights to sample under "ema".
  const PickleValue* dict = &file;
  if (auto ema = file.find("ema")) {
    dict = ema;
    what += " (its \"ema\" weights)";
  } else if (auto model = file.find("model"); model && model->is(PickleValue::Kind::Dict)) {
    dict = model;
    what += " (its \"model\" weights)";
  }
  return import_published_tensors(state_dict_of(*dict, what), request, what);
}

ImportedModel import_published_tensors(std::map<std::string, torch::Tensor> tensors, const ImportRequest& request,
                                       const std::string& what) {
  check_format(request.format);
  ImportedModel imported;
  // REPA's projector heads align hidden states with an encoder's features during training only.
  for (auto it = tensors.begin(); it != tensors.end();)
    if (it->first.rfind("projectors.", 0) == 0) {
      imported.left_out.push_back(it->first);
      it = tensors.erase(it);
    } else {
      ++it;
    }
  if (!imported.left_out.empty())
    spdlog::info("{}: {} tensors of REPA's projector heads left out (sampling does not use them)", what,
                 imported.left_out.size());

  const auto a = read_architecture(tensors, what);
  int64_t heads = request.num_heads > 0 ? request.num_heads : named_heads(a.width);
  if (heads == 0)
    throw Error(what + ": width " + std::to_string(a.width) + " is none of DiT's named sizes (S 384, B 768, L 1024, "
                "XL 1152); give its head count with --num_heads");
  if (a.frequencies != 256)
    throw Error(what + ": t_embedder.mlp.0 takes " + std::to_string(a.frequencies) + " frequencies; DiT's take 256");
  if (a.width % heads != 0)
    throw Error(what + ": " + std::to_string(heads) + " heads do not divide the width " + std::to_string(a.width));

  for (const auto& m : name_table(a)) {
    auto it = tensors.find(m.published);
    if (it == tensors.end()) throw Error(what + " has no tensor " + m.published);
    if (it->second.sizes() != c10::IntArrayRef(m.shape))
      throw Error(what + ": " + m.published + " has shape " + shape_text(it->second.sizes()) + "; the other tensors "
                  "make it " + shape_text(m.shape));
    auto tensor = it->second.to(torch::kFloat32);
    // (D, C, p, p) convolution -> (D, p p C) linear over patchify's (row, column, channel) order.
    if (m.published == "x_embedder.proj.weight") tensor = tensor.permute({0, 2, 3, 1}).reshape({a.width, -1});
    imported.weights[m.flowlab] = tensor;
    imported.published_parameters += it->second.numel();
    tensors.erase(it);
  }
  if (!tensors.empty())
    throw Error(what + " has a tensor " + tensors.begin()->first + " that a " + request.format + " network does not have" +
                (tensors.size() > 1 ? " (and " + std::to_string(tensors.size() - 1) + " more)" : ""));

  auto& c = imported.config;
  c.model.type = "dit";
  c.model.variant = "";
  c.model.hidden_size = static_cast<int>(a.width);
  c.model.depth = static_cast<int>(a.depth);
  c.model.patch_size = static_cast<int>(a.patch);
  c.model.num_heads = static_cast<int>(heads);
  c.model.in_channels = static_cast<int>(a.channels);
  c.model.num_classes = static_cast<int>(a.classes);
  c.model.learn_sigma = a.out_channels == 2 * a.channels;
  c.model.convention = request.format;
  c.model.dropout = 0;
  c.data.image_size = static_cast<int>(std::llround(std::sqrt(static_cast<double>(a.tokens))) * a.patch);
  set_method(c, request.format, c.model.learn_sigma);
  if (!request.vae.empty()) record_autoencoder(c, request.vae);
  return imported;
}

}  // namespace flowlab
