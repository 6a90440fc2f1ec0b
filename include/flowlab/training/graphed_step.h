// compute.cuda_graphs: the whole training step (forward, loss, backward, clipping, AdamW, the
// EMA updates) recorded once as a CUDA graph after a few eager steps, then replayed every step.
//
// How it differs from train_step (training_state.h), each because a captured step cannot read a
// device value on the host:
// - a step with a non-finite loss or gradient is applied, not skipped; a device flag records it
//   and non_finite_seen() reads it (the trainer does at every log and checkpoint, and stops);
// - the learning rate, AdamW's bias corrections and the EMA decays are device scalars written
//   before each replay (DeviceScalarAdamW);
// - the step's random draws continue the CUDA generator's stream; the batch's own draws (flips)
//   reseed it per step as always, so a run is reproducible, but not bit-equal to an eager one.
// Refused before training starts (check_cuda_graphs), one line each: a CPU build or device, Muon,
// several processes, the autoencoder's discriminator step, MeanFlow's separate JVP pass and its
// trained-in guidance interval.
#pragma once
#include <torch/torch.h>

#include <memory>

#include "flowlab/config.h"
#include "flowlab/cuda_graph.h"
#include "flowlab/methods/method.h"
#include "flowlab/training/adamw_update.h"
#include "flowlab/training/training_state.h"

namespace flowlab {

// The one-line refusals above, for a run of `processes` processes; nothing when cuda_graphs is off.
void check_cuda_graphs(const Config& config, int64_t processes);

class GraphedTrainStep {
 public:
  // capture = false runs the same device work eagerly every step (any device): the reference a
  // replayed step is compared with.
  GraphedTrainStep(TrainingState& state, Method& method, const Config& config, torch::Device device,
                   bool capture = true, int eager_steps = 3);

  // One step on `batch` (copied into the static inputs) at learning rate lr; state.step + 1.
  // Its loss, gradient norm and figures are copies, safe to keep.
  TrainStep operator()(const Batch& batch, double lr);

  // Whether any step since construction had a non-finite loss or gradient (one host sync).
  bool non_finite_seen() const;
  bool captured() const { return graph_ != nullptr; }

 private:
  void body();  // device work only: what the graph records

  TrainingState& state_;
  Method& method_;
  const Config& config_;
  torch::Device device_;
  bool capture_;
  int eager_steps_;
  int steps_run_ = 0;
  DeviceScalarAdamW adamw_;
  Batch inputs_;                              // static: each batch is copied in
  std::vector<torch::Tensor> ema_weights_;    // per EMA: 1 - decay, a device scalar
  torch::Tensor non_finite_;                  // device bool, set by any bad step
  Gradients outputs_;                         // static: the body's loss and figures
  torch::Tensor grad_norm_;
  std::unique_ptr<CapturedWork> graph_;
};

}  // namespace flowlab
