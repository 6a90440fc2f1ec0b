#include "flowlab/models/backbone.h"

#include "flowlab/error.h"

namespace flowlab {

IntervalBackbone& interval_of(Backbone& model) {
  if (auto* two_time = model.interval()) return *two_time;
  throw Error("model.type " + model.type_name() +
              " takes one time; MeanFlow needs a two-time backbone such as tiny_unet_meanflow");
}

int64_t Backbone::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace flowlab
