#include "flowlab/tasks/inpaint_finetune.h"

#include <algorithm>

#include "flowlab/error.h"
#include "flowlab/methods/registry.h"
#include "flowlab/tasks/masks.h"

namespace flowlab {

Config inpaint_finetune_config(Config config, const std::string& pretrained_path) {
  if (!method_entry(config.method.name).per_pixel_loss)
    throw Error("--pretrained " + pretrained_path + " holds a " + config.method.name +
                " model; inpainting fine-tuning works on CFM checkpoints");
  config.training.epochs = 10;
  config.training.steps = 0;
  config.training.lr = 5e-5;
  config.scheduler.min_lr = std::min(config.scheduler.min_lr, 5e-6);
  config.scheduler.warmup_steps = 0;
  config.training.cfg_dropout = 0.15;
  config.training.output_dir = "outputs/inpaint_finetune";
  config.training.init_from = pretrained_path;
  return config;
}

InpaintFinetuneMethod::InpaintFinetuneMethod(MethodPtr base, double mask_prob)
    : base_(std::move(base)), mask_prob_(mask_prob) {}

LossOutput InpaintFinetuneMethod::loss(Network& network, const torch::Tensor& x, const torch::Tensor& y,
                                       StepRandom& rng) {
  auto& model = as_backbone(network);
  // Whether this batch is masked, the mask type and its seed: one choice per step.
  const auto& types = mask_types();
  auto choice = rng.shared([&] {
    return torch::stack({(torch::rand({}) < mask_prob_).to(torch::kInt64),
                         torch::randint(static_cast<int64_t>(types.size()), {}, torch::kInt64),
                         torch::randint(1LL << 31, {}, torch::kInt64)});
  });
  bool masked = choice[0].item<int64_t>() != 0;
  const auto& type = types[choice[1].item<int64_t>()];
  auto mask_seed = static_cast<uint64_t>(choice[2].item<int64_t>());
  auto err = base_->per_pixel_loss(model, x, y, rng);
  LossOutput out;
  out.loss = err.mean();
  if (masked) {
    auto masks = rng.rows(x.size(0), [&](int64_t n) { return make_masks(type, n, x.size(2), mask_seed); });
    auto hole = 1 - masks.to(x.device());
    auto region = (err * hole).sum() / (hole.sum() * x.size(1)).clamp_min(1);
    out.metrics["masked_mse"] = region.detach();
    out.loss = 0.7 * out.loss + 0.3 * region;
  }
  return out;
}

}  // namespace flowlab
