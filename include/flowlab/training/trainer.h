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
#include "flowlab/training/latent_codec.h"
#include "flowlab/training/periodic_events.h"
#include "flowlab/training/training_state.h"

namespace flowlab {

struct TrainResult {
  int64_t step = 0;        // steps done in total, skipped ones included
  int64_t skipped_steps = 0;  // steps of this run skipped for a non-finite loss or gradient
  bool stopped = false;    // ended early by SIGINT / SIGTERM
  std::string checkpoint;  // path of the last checkpoint written
};

// model.in_channels and (for a conditional model) model.num_classes from the dataset, with a log
// line for each change; for a latent dataset also data.image_size and the autoencoder (model.vae,
// its SHA-256 and scaling).
void fit_model_to_data(Config& config, const Dataset& data);
// Writes over every `auto` and derived default the value it resolves to for this dataset, so that
// config.yaml and the checkpoint record what ran and a later version's defaults cannot change a
// resumed run: data.random_flip (true | false), data.fit, eval.sampler, eval.steps, eval.cfg_scale
// and eval.reference (from the sampling section and the dataset), a DiT's default variant.
// Left as given: training.threads (the machine's), eval.inception_weights (a path on it) and
// training.epochs (steps follow from the dataset's size).
void record_resolved_defaults(Config& config, const Dataset& data);
// Throws unless the global batch splits evenly over `processes`, and each process's rows into
// `accumulate` micro-batches. The programs check it before the processes meet, so no rank waits
// for one that has already stopped.
void check_batch_splits(int64_t batch_size, int processes, int accumulate = 1);

// A model whose weights exist cannot change its input: Error unless the dataset's images (or
// latents) are what `trained` (the checkpoint's config) was trained on, model.in_channels x
// data.image_size x data.image_size.
void check_model_fits_data(const Config& trained, const Dataset& data);

class Trainer {
 public:
  // Outputs go to config.training.output_dir: config.yaml, metrics.jsonl, samples/, last.pt,
  // weights_ema.pt.
  Trainer(Config config, const Dataset& data, Method& method);
  ~Trainer();

  // Trains to the configured number of steps; continues from `resume_from` when non-empty.
  // stop_at > 0 ends the run early at that step, with a checkpoint, as SIGINT would.
  TrainResult run(const std::string& resume_from = "", int64_t stop_at = 0);

  const BackbonePtr& model() const { return state_.model; }
  const BackbonePtr& ema_model() const { return state_.ema_model(); }
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
};

}  // namespace flowlab
