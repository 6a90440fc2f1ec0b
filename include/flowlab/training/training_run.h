// A training run resolved once, before its first step, for train_* and inpaint finetune alike:
// the plan (config, resume, checks) before the processes meet, then the config fitted to the data.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "flowlab/config.h"
#include "flowlab/data/dataset.h"
#include "flowlab/methods/method.h"

namespace flowlab {

struct TrainResult;

// What a training program settles from its command line alone.
struct TrainingPlan {
  Config config;                 // what this run trains, validated
  std::string resume_from;       // the checkpoint to continue from; empty for a new run
  std::optional<Config> trained;  // that checkpoint's config, whose model cannot change
};

// `fresh`: the config of a new run (defaults, then the command's --config, flags and --set).
// `resume`: none for a new run, "" for OUTPUT_DIR/last.pt, or a checkpoint's path. A resumed run
// takes the checkpoint's config as its base and `overrides` (the same command line) on top, except
// the model, which stays what the weights are, and the output directory, which stays `fresh`'s.
// Checks, before any data loads or process waits on another: the method matches the checkpoint's,
// validate(), the output directory can be made, and the batch splits over the launched processes.
TrainingPlan plan_training_run(const Config& fresh, const std::optional<std::string>& resume = std::nullopt,
                               const std::function<void(Config&)>& overrides = {});

// A plan's config fitted to its dataset (fit_model_to_data), its defaults written out
// (record_resolved_defaults) and validated again with what the data set: the only config a
// Trainer trains. Error when a resumed model's input is not the dataset's (check_model_fits_data).
class ResolvedConfig {
 public:
  const Config& get() const { return config_; }

 private:
  explicit ResolvedConfig(Config config) : config_(std::move(config)) {}
  Config config_;
  friend ResolvedConfig resolve_for_data(const TrainingPlan& plan, const Dataset& data);
};
ResolvedConfig resolve_for_data(const TrainingPlan& plan, const Dataset& data);

// The whole of a training program after its command line: joins the other processes (under
// torchrun, srun or RANK + WORLD_SIZE), loads the data, resolves the config, builds the method with
// `make` and trains. SIGINT and SIGTERM stop it with a checkpoint.
TrainResult train(const TrainingPlan& plan, const std::function<MethodPtr(const Config&)>& make);

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
// `accumulate` micro-batches.
void check_batch_splits(int64_t batch_size, int processes, int accumulate = 1);
// A model whose weights exist cannot change its input: Error unless the dataset's images (or
// latents) are what `trained` (the checkpoint's config) was trained on, model.in_channels x
// data.image_size x data.image_size.
void check_model_fits_data(const Config& trained, const Dataset& data);

}  // namespace flowlab
