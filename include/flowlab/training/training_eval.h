// Evaluation while training (training.eval_every, the eval section): the EMA model's samples
// scored by FID (and KID) against a reference whose features are computed once per run.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "flowlab/config.h"
#include "flowlab/eval/features.h"
#include "flowlab/eval/reference.h"
#include "flowlab/methods/method.h"
#include "flowlab/training/latent_codec.h"

namespace flowlab {

class TrainingEvaluator {
 public:
  // Checks the reference's name and loads the Inception weights now, so a bad eval section stops
  // the run before its first step. Every process of a job builds one.
  TrainingEvaluator(const Config& config, torch::Device device);

  // eval.num_samples samples of `ema` (the processes of a job share them), from the same noise at
  // every evaluation, scored against the reference (built on first use and cached like
  // evaluate_fid's). It reseeds the global generator as generate_samples does; training is not
  // affected, since every training step seeds its own draws from (seed, step) (StepRandom).
  // Returns {"step", "fid", "eval_samples", "eval_seconds", "eval_nfe"[, "kid_mean", "kid_std"]}.
  nlohmann::json evaluate(Method& method, Backbone& ema, int64_t step);

 private:
  Config config_;  // the eval section's sampler, steps and CFG scale in sampling
  torch::Device device_;
  LatentCodec codec_;
  std::string reference_name_;
  ReferenceOptions reference_options_;
  std::unique_ptr<FeatureExtractor> extractor_;
  std::optional<Reference> reference_;
};

// The lowest "fid" in a metrics.jsonl at steps <= up_to_step (a resumed run's best so far);
// +infinity when there is none or no file.
double best_logged_fid(const std::string& metrics_path, int64_t up_to_step);

}  // namespace flowlab
