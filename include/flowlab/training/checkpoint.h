// Checkpoints: model, EMA, optimizer, step, RNG state, resolved config and a format version,
// written atomically. Plus a plain {name: tensor} weight export that Python's torch.load reads.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

#include "flowlab/config.h"
#include "flowlab/io/pickle.h"
#include "flowlab/methods/method.h"
#include "flowlab/models/backbone.h"

namespace flowlab {

// Version 2: a torch.save file (io/torch_file.h), so that torch.load(path, weights_only=True)
// reads it in Python; a dict of
//   format_version: 2, step: int, config: the resolved config as YAML text, class_names: [str],
//   model: {name: tensor}, ema: {name: tensor} [, ema_1, ema_2, ...: the EMAs of
//   training.ema_decays after the first, in its order],
//   optimizer: uint8 tensor, LibTorch's archive of the optimizer state [, method: likewise, a
//   method's own state], rng_cpu: uint8 tensor [, rng_cuda].
// Version 1 held the same keys in LibTorch's own archive (a TorchScript module); it is still read.
constexpr int64_t kCheckpointFormat = 2;

struct TrainingSnapshot {
  const Config& config;
  int64_t step;
  const std::vector<std::string>& class_names;
  Network& model;
  std::vector<Network*> emas;  // in config.training.ema_decay_list() order
  torch::optim::Optimizer& optimizer;
  const Method* method = nullptr;  // its own state, when it has any
};

// Which weights of a checkpoint: the raw model's, or an EMA by its decay.
struct WeightChoice {
  bool ema = true;
  double ema_decay = 0;  // 0: the first of the run's EMA decays
};

void save_checkpoint(const std::string& path, const TrainingSnapshot& snapshot);
// A checkpoint of weights alone (an imported network): step 0, `weights` as both model and EMA,
// no optimizer state, so it samples, evaluates and starts runs (training.init_from) but does not
// resume.
void save_weights_checkpoint(const std::string& path, const Config& config,
                             const std::map<std::string, torch::Tensor>& weights);

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

  // Weights into a model built from config(); `ema` picks the (first) EMA's weights.
  void load_weights(Network& model, bool ema) { load_weights(model, WeightChoice{ema, 0}); }
  // Throws Error naming the decays the checkpoint keeps when `choice` asks for another.
  void load_weights(Network& model, const WeightChoice& choice);
  // Whether the checkpoint keeps an EMA of this decay.
  bool has_ema(double decay) const;
  void load_optimizer(torch::optim::Optimizer& optimizer);
  // The method's own state, when the checkpoint holds one and the method has any.
  void load_method_state(Method& method);
  void restore_rng();

 private:
  void read_header();  // format version, config, step, class names
  // The archive key of the EMA of `decay` ("ema", "ema_1", ...); "" when there is none.
  std::string ema_key(double decay) const;

  // A format-2 checkpoint's top-level entry; null when absent.
  const PickleValue* entry(const std::string& key) const;

  std::string path_;
  torch::Device device_;
  bool libtorch_archive_ = false;          // format 1
  torch::serialize::InputArchive archive_;  // format 1
  PickleValue contents_;                    // format 2
  Config config_;
  int64_t step_ = 0;
  std::vector<std::string> class_names_;
};

// Writes {parameter or buffer name: tensor} as torch.save does; Python reads it with
// torch.load(path, weights_only=True) and can pass it to load_state_dict of an equivalent module.
void export_weights(const std::string& path, Network& model);
// The same weights as safetensors, with the run's config (YAML) and model type as metadata.
void export_weights_safetensors(const std::string& path, Network& model, const Config& config);

// {parameter or buffer name: tensor} of a module, on the CPU.
std::map<std::string, torch::Tensor> named_weights(const torch::nn::Module& module);
// Sets every parameter and buffer of `module` from `weights` by name, converted to its dtype and
// device. Every one must be there with its shape and nothing else may be: otherwise an Error
// naming `what` and the first missing, unexpected or misshapen name. The module's tensors under
// the modules named in `keep` ("name." prefixes) are left as they are and must not be in `weights`.
void load_named_weights(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& weights,
                        const std::string& what, const std::vector<std::string>& keep = {});

}  // namespace flowlab
