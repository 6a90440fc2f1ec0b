#include "flowlab/models/backbone.h"

namespace flowlab {

torch::Tensor Backbone::forward_interval(const torch::Tensor& x, const torch::Tensor& r,
                                         const torch::Tensor& t, const torch::Tensor& y) {
  return forward_interval_jet(Jet(x), r, Jet(t), y).value;
}

Jet Backbone::forward_interval_jet(const Jet&, const torch::Tensor&, const Jet&, const torch::Tensor&) {
  TORCH_CHECK(false, "model.type ", type_name(),
              " takes one time; MeanFlow needs a two-time backbone such as tiny_unet_meanflow");
}

int64_t Backbone::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace flowlab
