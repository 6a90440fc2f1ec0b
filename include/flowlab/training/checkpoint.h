// Checkpoints: model, EMA, optimizer, step, RNG state, resolved config and a format version,
// written atomically. Plus a plain {name: tensor} weight export that Python's torch.load reads.
#pragma once
#include <torch/torch.h>

#include <string>

#include "flowlab/config.h"
#include "flowlab/models/backbone.h"

namespace flowlab {

// Version 1: keys format_version, config (YAML text), step, class_names, model/, ema/,
// optimizer/, rng_cpu [, rng_cuda].
constexpr int64_t kCheckpointFormat = 1;

struct TrainingSnapshot {
  const Config& config;
  int64_t step;
  const std::vector<std::string>& class_names;
  Backbone& model;
  Backbone& ema;
  torch::optim::Optimizer& optimizer;
};

void save_checkpoint(const std::string& path, const TrainingSnapshot& snapshot);

class CheckpointReader {
 public:
  // Opens and checks the file; throws Error for a missing, truncated, foreign or newer file.
  // Tensors are read onto `device`: loading into a module or optimizer on another device would
  // move its tensors to the archive's device.
  explicit CheckpointReader(const std::string& path, torch::Device device = torch::kCPU);

  const Config& config() const { return config_; }
  int64_t step() const { return step_; }
  const std::vector<std::string>& class_names() const { return class_names_; }
  const std::string& path() const { return path_; }

  // Weights into a model built from config(); `ema` picks the EMA weights.
  void load_weights(Backbone& model, bool ema);
  void load_optimizer(torch::optim::Optimizer& optimizer);
  void restore_rng();

 private:
  void read_header();  // format version, config, step, class names

  std::string path_;
  torch::serialize::InputArchive archive_;
  Config config_;
  int64_t step_ = 0;
  std::vector<std::string> class_names_;
};

// Writes {parameter or buffer name: tensor} with torch::pickle_save; Python reads it with
// torch.load(path) and can pass it to load_state_dict of an equivalent module.
void export_weights(const std::string& path, Backbone& model);

}  // namespace flowlab
