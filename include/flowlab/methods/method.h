// A training method owns its loss, its time sampling, and how it turns a network into samples.
// The trainer owns none of that.
#pragma once
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>

#include "flowlab/step_random.h"
#include "flowlab/methods/flow_path.h"
#include "flowlab/models/backbone.h"
#include "flowlab/sampling/samplers.h"

namespace flowlab {

struct SamplingConfig;

struct LossOutput {
  torch::Tensor loss;                            // scalar, differentiable
  std::map<std::string, torch::Tensor> metrics;  // detached scalars logged to metrics.jsonl
};

struct SampleOutput {
  torch::Tensor x;  // (N, C, H, W) at t = 0
  int64_t nfe = 0;  // the sampler's network calls (a CFG double batch counts once)
  // Network evaluations per sample: the rows the network saw over N, so a CFG double batch counts
  // twice; the cost a sample had.
  int64_t evaluations = 0;
};

class Method {
 public:
  virtual ~Method() = default;
  virtual std::string name() const = 0;

  // x: (N, C, H, W) data in [-1, 1]; y: (N,) labels, already dropped to the null label where
  // the trainer applies CFG dropout. Every random draw goes through `rng`, so a step gives the
  // same update whatever the number of processes (step_random.h).
  virtual LossOutput loss(Network& model, const torch::Tensor& x, const torch::Tensor& y,
                          StepRandom& rng) = 0;

  // The same objective before the mean: (N, C, H, W) squared errors, for objectives that weight
  // regions (inpainting fine-tuning). Methods without one throw.
  virtual torch::Tensor per_pixel_loss(Backbone& model, const torch::Tensor& x, const torch::Tensor& y,
                                       StepRandom& rng);

  // noise: (N, C, H, W) standard normal; y: (N,) labels. Runs without gradients.
  virtual SampleOutput sample(Backbone& model, const torch::Tensor& noise, const torch::Tensor& y,
                              const SamplingConfig& sampling, const StepHook& hook = nullptr) = 0;

  // The forward process: clean x0 and standard-normal eps -> the state at time t in [0, 1] that
  // sample() hands its hook. Flow methods: (1 - t) x0 + t eps. Inpainting puts the known pixels
  // back at the sampler's noise level with it.
  virtual torch::Tensor noised(const torch::Tensor& x0, const torch::Tensor& eps, double t) const {
    return FlowPath::at(x0, eps, t);
  }

  // Called after each training step's update (applied or skipped): methods that train a second
  // network (the autoencoder's discriminator) update it here, after the model's backward.
  virtual void after_step() {}
  // Training state of the method's own (a discriminator and its optimizer), kept in checkpoints.
  virtual bool has_state() const { return false; }
  virtual void save_state(torch::serialize::OutputArchive&) const {}
  virtual void load_state(torch::serialize::InputArchive&) {}
  // Methods that learn to reconstruct (the autoencoder) return x's reconstruction (N, C, H, W),
  // which training grids show under the originals; generative methods return an undefined tensor.
  virtual torch::Tensor reconstruct(Network&, const torch::Tensor&) { return {}; }
};

using MethodPtr = std::unique_ptr<Method>;

}  // namespace flowlab
