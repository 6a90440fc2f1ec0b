#include "flowlab/models/registry.h"

#include "flowlab/models/autoencoder_kl.h"
#include "flowlab/models/dit.h"
#include "flowlab/models/tiny_unet.h"
#include "flowlab/named_entries.h"

namespace flowlab {

const std::vector<NetworkEntry>& network_entries() {
  static const std::vector<NetworkEntry> entries = {tiny_unet_entry(), tiny_unet_meanflow_entry(),
                                                     dit_entry(), autoencoder_kl_entry()};
  return entries;
}

const NetworkEntry& network_entry(const std::string& type) {
  return find_entry(network_entries(), type, "model.type");
}

std::vector<std::string> network_names() {
  return entry_names(network_entries());
}

}  // namespace flowlab
