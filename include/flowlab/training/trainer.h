// The one training loop for every method: batches, loss, backward, clip, step, EMA, LR schedule,
// logging, periodic sample grids, checkpoints, resume.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "flowlab/config.h"
#include "flowlab/data/batcher.h"
#include "flowlab/data/dataset.h"
#include "flowlab/methods/method.h"
#include "flowlab/models/backbone.h"
#include "flowlab/training/graphed_step.h"
#include "flowlab/training/latent_codec.h"
#include "flowlab/training/periodic_events.h"
#include "flowlab/training/training_run.h"
#include "flowlab/training/training_state.h"

namespace flowlab {

struct TrainResult {
  int64_t step = 0;        // steps done in total, skipped ones included
  int64_t skipped_steps = 0;  // steps of this run skipped for a non-finite loss or gradient
  bool stopped = false;    // ended early by SIGINT / SIGTERM
  std::string checkpoint;  // path of the last checkpoint written
};

class Trainer {
 public:
  // Outputs go to config.training.output_dir: config.yaml, metrics.jsonl, samples/, last.pt,
  // weights_ema.pt.
  Trainer(const ResolvedConfig& config, const Dataset& data, Method& method);
  // A new run of `config` as it stands: planned and resolved for `data` here.
  Trainer(const Config& config, const Dataset& data, Method& method);
  ~Trainer();

  // Trains to the configured number of steps; continues from `resume_from` when non-empty.
  // stop_at > 0 ends the run early at that step, with a checkpoint, as SIGINT would.
  TrainResult run(const std::string& resume_from = "", int64_t stop_at = 0);

  // The trained network and its (first) EMA copy, as denoisers: null for an autoencoder.
  BackbonePtr model() const { return std::dynamic_pointer_cast<Backbone>(state_.model); }
  BackbonePtr ema_model() const { return std::dynamic_pointer_cast<Backbone>(state_.ema_model()); }
  // The optimizer of the last run(); null before.
  torch::optim::Optimizer* optimizer() const { return state_.optimizer.get(); }
  torch::Device device() const { return device_; }

 private:
  // The training state of a new run (training.init_from) or a resumed one, every process's
  // weights those of rank 0.
  void start(const std::string& resume_from);
  // Everything before the first step: directories, threads, the state (start), config.yaml, the
  // batcher over this process's shard, and the writers.
  void prepare(const std::string& resume_from);
  // Evaluation (with best.pt), sample grids and checkpoints, as training.*_every ask.
  std::vector<std::unique_ptr<PeriodicEvent>> make_events(const std::string& resume_from);
  // The non-finite guard: counts a skipped update; training.max_bad_steps in a row checkpoint and throw.
  void count_bad_step(bool applied, TrainResult& result);
  // compute.cuda_graphs: a captured step cannot skip a non-finite update, so before anything is
  // logged or saved this throws when one happened (the weights are no longer finite).
  void check_graphed_steps_finite(int64_t checked_up_to);
  // After the last step: the stop message, or the weight exports and the final grid.
  void finish(const TrainResult& result, int64_t total);
  void save_checkpoint_as(const std::string& path);
  void save_sample_grid(const std::string& path);

  Config config_;
  const Dataset& data_;
  Method& method_;
  torch::Device device_;
  TrainingState state_;
  std::unique_ptr<LatentCodec> codec_;  // a latent model's grids, on the main process
  Dataset training_data_;               // data_, or its copy on the training device
  std::unique_ptr<Batcher> batcher_;
  RunOutputs outputs_;
  int64_t bad_in_a_row_ = 0;
  std::unique_ptr<GraphedTrainStep> graphed_;  // compute.cuda_graphs
};

}  // namespace flowlab
