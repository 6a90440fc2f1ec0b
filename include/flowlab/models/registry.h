// Networks by name (model.type, --model): the backbones and the autoencoder. Each one's entry owns
// its factory, its config rules and its one- and two-time forms. make_network(config) and
// make_backbone(config) are in recipe.h, which knows the method.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "flowlab/models/backbone.h"

namespace flowlab {

struct Config;

struct NetworkEntry {
  std::string name;
  // The type that trains with a one-time method (cfm, ddpm) or a two-time one (meanflow), starting
  // from this one ("" where there is none).
  std::string one_time_form, two_time_form;
  std::string only_for_method;  // the one method that trains it ("" = any but such methods)
  std::function<void(const Config&)> check;  // the network's own rules; throws Error naming keys
  // Builds the network for config.data.image_size; two_time: for a two-time method.
  std::function<NetworkPtr(const Config&, bool two_time)> make;
  // Weights named as other tools name them -> this network's names (may be empty: none).
  std::function<std::map<std::string, torch::Tensor>(const Config&, const std::map<std::string, torch::Tensor>&)>
      rename_weights;
};

// Registered entries, in the order --help lists them.
const std::vector<NetworkEntry>& network_entries();
// Throws "config: model.type = NAME: must be one of: ...".
const NetworkEntry& network_entry(const std::string& type);
std::vector<std::string> network_names();

}  // namespace flowlab
