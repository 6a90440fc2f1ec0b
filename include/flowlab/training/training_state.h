// What a training run updates (the model, its EMA copy, AdamW, the step count) and the one
// training step that the trainer and the benchmark both run, so the benchmark times exactly what
// training does.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "flowlab/config.h"
#include "flowlab/data/dataset.h"
#include "flowlab/methods/method.h"
#include "flowlab/models/backbone.h"
#include "flowlab/step_random.h"
#include "flowlab/training/ema.h"
#include "flowlab/training/optimizer_step.h"

namespace flowlab {

struct TrainingState {
  NetworkPtr model;
  // One per training.ema_decay_list(), in its order; the first is the one sampled by default.
  std::vector<std::unique_ptr<Ema>> emas;
  std::unique_ptr<torch::optim::Optimizer> optimizer;  // AdamW, or Muon (training/muon.h)
  std::vector<torch::Tensor> params;  // the model's
  int64_t step = 0;                   // steps taken, skipped ones included

  const NetworkPtr& ema_model() const { return emas.front()->shadow(); }
};

// The model and its EMA copies built from config (seeded by training.seed); `init`, when given,
// sees the model before they move to `device`; then the optimizer with training's settings.
TrainingState make_training_state(const Config& config, torch::Device device,
                                  const std::function<void(Network&)>& init = nullptr);

// compute.channels_last: model and EMA weights in channels-last layout (after any loading, which
// replaces the weights' storage).
void use_channels_last(TrainingState& state);

struct TrainStep {
  StepOutcome update;
  std::map<std::string, torch::Tensor> metrics;  // the method's own figures
};

// The schedule's learning rate: lr for AdamW's parameters and, in proportion, for Muon's
// (training.muon_lr at the schedule's peak).
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr, const TrainingConfig& training);

// The loss's gradients added to the parameters' .grad, over training.accumulate micro-batches
// with labels dropped to the null class at training.cfg_dropout: the mean loss and the method's
// figures, detached device scalars. No host sync.
struct Gradients {
  torch::Tensor loss;
  std::map<std::string, torch::Tensor> metrics;
};
Gradients accumulate_gradients(TrainingState& state, Method& method, const Batch& batch, const Config& config,
                               StepRandom& rng);

// One step: labels dropped to the null class with training.cfg_dropout, the learning rate set to
// lr (set_learning_rate), the method's loss, backward, `average`, clipping and the update (optimizer_step), the EMA
// updates when the step was applied, the method's own after_step(), and step + 1.
TrainStep train_step(TrainingState& state, Method& method, const Batch& batch, const Config& config,
                     double lr, StepRandom& rng, const GradientAverager& average = nullptr);

}  // namespace flowlab
