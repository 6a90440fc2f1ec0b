#include "flowlab/models/registry.h"

#include "flowlab/models/autoencoder_kl.h"
#include "flowlab/models/dit.h"
#include "flowlab/models/tiny_unet.h"
#include "flowlab/named_entries.h"

namespace flowlab {

const std::vector<BackboneEntry>& backbone_entries() {
  static const std::vector<BackboneEntry> entries = {tiny_unet_entry(), tiny_unet_meanflow_entry(),
                                                     dit_entry(), autoencoder_kl_entry()};
  return entries;
}

const BackboneEntry& backbone_entry(const std::string& type) {
  return find_entry(backbone_entries(), type, "model.type");
}

std::vector<std::string> backbone_names() {
  return entry_names(backbone_entries());
}

}  // namespace flowlab
