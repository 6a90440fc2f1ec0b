#include "flowlab/models/backbone.h"

#include "flowlab/error.h"

namespace flowlab {

IntervalBackbone& interval_of(Backbone& model) {
  if (auto* two_time = model.interval()) return *two_time;
  throw Error("model.type " + model.type_name() +
              " takes one time; MeanFlow needs a two-time backbone such as tiny_unet_meanflow");
}

Backbone& as_backbone(Network& network) {
  if (auto* backbone = dynamic_cast<Backbone*>(&network)) return *backbone;
  throw Error("model.type " + network.type_name() + " is an autoencoder (method vae), not a denoiser");
}

BackbonePtr as_backbone(const NetworkPtr& network) {
  as_backbone(*network);
  return std::static_pointer_cast<Backbone>(network);
}

int64_t Network::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace flowlab
