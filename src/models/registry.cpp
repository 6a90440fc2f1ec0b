#include "flowlab/models/registry.h"

#include <functional>
#include <map>

#include "flowlab/config.h"
#include "flowlab/error.h"
#include "flowlab/models/dit.h"
#include "flowlab/models/tiny_unet.h"

namespace flowlab {
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

BackbonePtr make_tiny_unet(const Config& c) { return std::make_shared<TinyUNet>(tiny_unet_options(c)); }

BackbonePtr make_tiny_unet_meanflow(const Config& c) {
  auto o = tiny_unet_options(c);
  o.time_pair = c.model.time_pair;
  return std::make_shared<TinyUNet>(o);
}

// One type for every method: MeanFlow gets the two-time form (model.time_pair), the others one time.
BackbonePtr make_dit(const Config& c) {
  auto o = dit_options(find_dit_size(c.model.variant.empty() ? kDefaultDiTSize : c.model.variant));
  o.in_channels = c.model.in_channels;
  o.image_size = c.data.image_size;
  o.num_classes = c.model.num_classes;
  if (c.method.name == "meanflow") o.time_pair = c.model.time_pair;
  return std::make_shared<DiT>(o);
}

using Factory = std::function<BackbonePtr(const Config&)>;

const std::vector<std::pair<std::string, Factory>>& registry() {
  static const std::vector<std::pair<std::string, Factory>> entries = {
      {"tiny_unet", make_tiny_unet},
      {"tiny_unet_meanflow", make_tiny_unet_meanflow},
      {"dit", make_dit},
  };
  return entries;
}

}  // namespace

std::vector<std::string> backbone_names() {
  std::vector<std::string> names;
  for (const auto& e : registry()) names.push_back(e.first);
  return names;
}

BackbonePtr make_backbone(const Config& config) {
  for (const auto& e : registry())
    if (e.first == config.model.type) return e.second(config);
  std::string known;
  for (const auto& n : backbone_names()) known += " " + n;
  throw Error("unknown model.type '" + config.model.type + "' (known:" + known + ")");
}

}  // namespace flowlab
