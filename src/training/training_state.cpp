#include "flowlab/training/training_state.h"

#include "flowlab/models/memory_format.h"
#include "flowlab/recipe.h"
#include "flowlab/training/label_dropout.h"
#include "flowlab/training/muon.h"

namespace flowlab {

TrainingState make_training_state(const Config& config, torch::Device device,
                                  const std::function<void(Network&)>& init) {
  const auto& tc = config.training;
  TrainingState s;
  torch::manual_seed(static_cast<uint64_t>(tc.seed));
  s.model = make_network(config);
  const auto decays = tc.ema_decay_list();
  std::vector<NetworkPtr> shadows;
  for (size_t i = 0; i < decays.size(); ++i) shadows.push_back(make_network(config));
  if (init) init(*s.model);
  s.model->to(device);
  for (size_t i = 0; i < decays.size(); ++i) {
    shadows[i]->to(device);
    s.emas.push_back(std::make_unique<Ema>(s.model, shadows[i], decays[i], tc.ema_warmup));
  }
  auto adamw = torch::optim::AdamWOptions(tc.lr).betas({tc.beta1, tc.beta2}).weight_decay(tc.weight_decay);
  if (tc.optimizer == "muon") {
    auto split = split_for_muon(*s.model);
    s.optimizer = std::make_unique<Muon>(
        split.matrices, MuonOptions(tc.muon_lr).momentum(tc.muon_momentum).weight_decay(tc.weight_decay),
        split.others, adamw);
  } else {
    s.optimizer = std::make_unique<torch::optim::AdamW>(s.model->parameters(), adamw);
  }
  s.params = s.model->parameters();
  return s;
}

void use_channels_last(TrainingState& state) {
  to_channels_last(*state.model);
  for (auto& ema : state.emas) to_channels_last(*ema->shadow());
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr, const TrainingConfig& training) {
  for (auto& group : optimizer.param_groups()) {
    const bool muon = dynamic_cast<const MuonOptions*>(&group.options()) != nullptr;
    group.options().set_lr(muon ? lr * training.muon_lr / training.lr : lr);
  }
}

namespace {

// The label CFG dropout writes: a denoiser's null class; an autoencoder ignores labels.
int64_t null_label_of(Network& network) {
  auto* backbone = dynamic_cast<Backbone*>(&network);
  return backbone ? backbone->null_label() : 0;
}

}  // namespace

Gradients accumulate_gradients(TrainingState& state, Method& method, const Batch& batch, const Config& config,
                               StepRandom& rng) {
  // K micro-batches (training.accumulate; 1: the whole batch), each one's mean loss over K so that
  // their gradients sum to the whole batch's mean.
  const int64_t parts = config.training.accumulate;
  const int64_t rows = batch.images.size(0) / parts;
  if (batch.noise.defined()) rng.pair_noise(batch.noise);  // couplings: each image's own noise
  Gradients out;
  for (int64_t k = 0; k < parts; ++k) {
    auto micro_rng = rng.micro_batch(k, parts);
    auto images = batch.images.slice(0, k * rows, (k + 1) * rows);
    auto labels = drop_labels(batch.labels.slice(0, k * rows, (k + 1) * rows), config.training.cfg_dropout,
                              null_label_of(*state.model), micro_rng);
    auto part = method.loss(*state.model, images, labels, micro_rng);
    (part.loss / static_cast<double>(parts)).backward();
    auto part_loss = part.loss.detach() / static_cast<double>(parts);
    out.loss = out.loss.defined() ? out.loss + part_loss : part_loss;
    for (const auto& [name, value] : part.metrics) {
      auto share = value.detach() / static_cast<double>(parts);
      auto it = out.metrics.find(name);
      if (it == out.metrics.end()) out.metrics[name] = share;
      else it->second = it->second + share;
    }
  }
  return out;
}

TrainStep train_step(TrainingState& state, Method& method, const Batch& batch, const Config& config,
                     double lr, StepRandom& rng, const GradientAverager& average) {
  state.model->train();
  set_learning_rate(*state.optimizer, lr, config.training);
  state.optimizer->zero_grad();
  auto gradients = accumulate_gradients(state, method, batch, config, rng);
  TrainStep step;
  step.metrics = std::move(gradients.metrics);
  step.update = apply_gradients(*state.optimizer, state.params, gradients.loss, config.training.grad_clip, average);
  if (step.update.applied)
    for (auto& ema : state.emas) ema->update(state.step + 1);
  method.after_step();
  ++state.step;
  return step;
}

}  // namespace flowlab
