#include "flowlab/tasks/inpaint_finetune.h"

#include "flowlab/tasks/masks.h"

namespace flowlab {

InpaintFinetuneMethod::InpaintFinetuneMethod(MethodPtr base, double mask_prob)
    : base_(std::move(base)), mask_prob_(mask_prob) {}

LossOutput InpaintFinetuneMethod::loss(Backbone& model, const torch::Tensor& x, const torch::Tensor& y) {
  bool masked = torch::rand({1}).item<double>() < mask_prob_;
  const auto& types = mask_types();
  auto type = types[torch::randint(static_cast<int64_t>(types.size()), {1}).item<int64_t>()];
  auto mask_seed = static_cast<uint64_t>(torch::randint(1LL << 31, {1}).item<int64_t>());
  auto err = base_->per_pixel_loss(model, x, y);
  LossOutput out;
  out.loss = err.mean();
  if (masked) {
    auto hole = 1 - make_masks(type, x.size(0), x.size(2), mask_seed).to(x.device());
    auto region = (err * hole).sum() / (hole.sum() * x.size(1)).clamp_min(1);
    out.metrics["masked_mse"] = region.detach();
    out.loss = 0.7 * out.loss + 0.3 * region;
  }
  return out;
}

}  // namespace flowlab
