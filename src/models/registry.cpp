#include "flowlab/models/registry.h"

#include "flowlab/config.h"
#include "flowlab/models/autoencoder_kl.h"
#include "flowlab/models/dit.h"
#include "flowlab/models/tiny_unet.h"

namespace flowlab {

const std::vector<BackboneEntry>& backbone_entries() {
  static const std::vector<BackboneEntry> entries = {tiny_unet_entry(), tiny_unet_meanflow_entry(),
                                                     dit_entry(), autoencoder_kl_entry()};
  return entries;
}

const BackboneEntry& backbone_entry(const std::string& type) {
  for (const auto& e : backbone_entries())
    if (e.name == type) return e;
  throw not_one_of("model.type", type, backbone_names());
}

std::vector<std::string> backbone_names() {
  std::vector<std::string> names;
  for (const auto& e : backbone_entries()) names.push_back(e.name);
  return names;
}

}  // namespace flowlab
