// The inpainting fine-tuning objective (the recipe `inpaint finetune` runs): on a fraction
// mask_prob of batches, masks of a random type are drawn and the loss is
// 0.7 * (mean over all pixels) + 0.3 * (mean over the masked pixels); other batches keep the
// plain objective. Wraps a method with a per-pixel loss (CFM); sampling is the wrapped method's.
#pragma once
#include <string>

#include "flowlab/config.h"
#include "flowlab/methods/method.h"

namespace flowlab {

// The fine-tuning run's config: the pretrained checkpoint's, started from its EMA weights
// (training.init_from), for 10 epochs at lr 5e-5 (min 5e-6, no warm-up) with label dropout 0.15,
// into outputs/inpaint_finetune. Throws Error when its method has no per-pixel loss.
Config inpaint_finetune_config(Config pretrained, const std::string& pretrained_path);

class InpaintFinetuneMethod : public Method {
 public:
  InpaintFinetuneMethod(MethodPtr base, double mask_prob);

  std::string name() const override { return base_->name(); }
  // Draws from the global torch RNG only, so a resumed run repeats the same batches and masks.
  // metrics: "masked_mse" on masked batches (the region loss before weighting).
  LossOutput loss(Network& model, const torch::Tensor& x, const torch::Tensor& y,
                  StepRandom& rng) override;
  SampleOutput sample(Backbone& model, const torch::Tensor& noise, const torch::Tensor& y,
                      const SamplingConfig& sampling, const StepHook& hook = nullptr) override {
    return base_->sample(model, noise, y, sampling, hook);
  }
  torch::Tensor noised(const torch::Tensor& x0, const torch::Tensor& eps, double t) const override {
    return base_->noised(x0, eps, t);
  }

 private:
  MethodPtr base_;
  double mask_prob_;
};

}  // namespace flowlab
