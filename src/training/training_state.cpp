#include "flowlab/training/training_state.h"

#include "flowlab/models/memory_format.h"
#include "flowlab/recipe.h"
#include "flowlab/training/label_dropout.h"

namespace flowlab {

TrainingState make_training_state(const Config& config, torch::Device device,
                                  const std::function<void(Backbone&)>& init) {
  const auto& tc = config.training;
  TrainingState s;
  torch::manual_seed(static_cast<uint64_t>(tc.seed));
  s.model = make_backbone(config);
  s.ema_model = make_backbone(config);
  if (init) init(*s.model);
  s.model->to(device);
  s.ema_model->to(device);
  s.ema = std::make_unique<Ema>(s.model, s.ema_model, tc.ema_decay, tc.ema_warmup);
  s.optimizer = std::make_unique<torch::optim::AdamW>(
      s.model->parameters(),
      torch::optim::AdamWOptions(tc.lr).betas({tc.beta1, tc.beta2}).weight_decay(tc.weight_decay));
  s.params = s.model->parameters();
  return s;
}

void use_channels_last(TrainingState& state) {
  to_channels_last(*state.model);
  to_channels_last(*state.ema_model);
}

TrainStep train_step(TrainingState& state, Method& method, const Batch& batch, const Config& config,
                     double lr, StepRandom& rng, const GradientAverager& average) {
  state.model->train();
  for (auto& group : state.optimizer->param_groups()) group.options().set_lr(lr);
  const int64_t parts = config.training.accumulate;
  TrainStep step;
  if (parts == 1) {
    auto labels = drop_labels(batch.labels, config.training.cfg_dropout, state.model->null_label(), rng);
    auto out = method.loss(*state.model, batch.images, labels, rng);
    step = {optimizer_step(*state.optimizer, state.params, out.loss, config.training.grad_clip, average),
            out.metrics};
  } else {
    // Micro-batches: each one's mean loss over `parts` sums to the whole batch's mean.
    state.optimizer->zero_grad();
    const int64_t rows = batch.images.size(0) / parts;
    torch::Tensor loss;
    for (int64_t k = 0; k < parts; ++k) {
      auto micro_rng = rng.micro_batch(k, parts);
      auto images = batch.images.slice(0, k * rows, (k + 1) * rows);
      auto labels = drop_labels(batch.labels.slice(0, k * rows, (k + 1) * rows), config.training.cfg_dropout,
                                state.model->null_label(), micro_rng);
      auto out = method.loss(*state.model, images, labels, micro_rng);
      (out.loss / static_cast<double>(parts)).backward();
      auto part_loss = out.loss.detach() / static_cast<double>(parts);
      loss = loss.defined() ? loss + part_loss : part_loss;
      for (const auto& [name, value] : out.metrics) {
        auto part = value.detach() / static_cast<double>(parts);
        auto it = step.metrics.find(name);
        if (it == step.metrics.end()) step.metrics[name] = part;
        else it->second = it->second + part;
      }
    }
    step.update = apply_gradients(*state.optimizer, state.params, loss, config.training.grad_clip, average);
  }
  if (step.update.applied) state.ema->update(state.step + 1);
  method.after_step();
  ++state.step;
  return step;
}

}  // namespace flowlab
