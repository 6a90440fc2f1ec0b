// The denoiser interface every generative backbone implements. A backbone does not know which
// method trains it: CFM reads its output as a velocity, DDPM as epsilon (or v), MeanFlow as u.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "flowlab/models/jet.h"
#include "flowlab/models/network.h"

namespace flowlab {

class IntervalBackbone;

// The denoiser interface: what CFM and DDPM train and every sampler calls.
class Backbone : public Network {
 public:
  // x: (N, C, H, W); t: (N,) float in [0, 1]; y: (N,) int64 in [0, num_classes], where
  // num_classes is the CFG null label. Returns (N, C, H, W) in x's dtype,
  // also under autocast (models/autocast.h), so losses and samplers work in fp32.
  virtual torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t,
                                const torch::Tensor& y) = 0;

  // The two-time form below, when this network has one (MeanFlow trains it); nullptr otherwise.
  virtual IntervalBackbone* interval() { return nullptr; }

  // model.checkpointing: while gradients are recorded, each block's activations are recomputed
  // in the backward pass instead of kept (models/activation_checkpoint.h).
  void set_checkpointing(bool on) { checkpointing_ = on; }
  bool checkpointing() const { return checkpointing_; }

  virtual int64_t num_classes() const = 0;
  int64_t null_label() const { return num_classes(); }

 private:
  bool checkpointing_ = false;
};

using BackbonePtr = std::shared_ptr<Backbone>;

// `network` as a denoiser; Error for an autoencoder ("model.type autoencoder_kl is an autoencoder
// (method vae), not a denoiser").
Backbone& as_backbone(Network& network);
BackbonePtr as_backbone(const NetworkPtr& network);

// The optional two-time interface beside it: MeanFlow's average velocity u(x, r, t), r <= t, both
// (N,) in [0, 1]. How (r, t) enter the network (as (t, t - r) or (r, t)) is the backbone's
// business, so autograd sees r and t themselves.
//
// guidance: (N, 3) [omega, t_min, t_max], the CFG scale and guidance interval a network trained
// with meanflow.guidance_conditioning is told (embeddings.h, GuidanceEmbedder); undefined means
// [1, 0, 1], no guidance. Networks without guidance inputs ignore it.
class IntervalBackbone {
 public:
  virtual ~IntervalBackbone() = default;
  virtual torch::Tensor forward_interval(const torch::Tensor& x, const torch::Tensor& r, const torch::Tensor& t,
                                         const torch::Tensor& y, const torch::Tensor& guidance = {}) {
    return forward_interval_jet(Jet(x), r, Jet(t), y, guidance).value;
  }
  // The same with the tangents of x and t carried along (r held fixed): u with its graph and its
  // derivative without one (models/jet.h; MeanFlow's fused JVP pass).
  virtual Jet forward_interval_jet(const Jet& x, const torch::Tensor& r, const Jet& t, const torch::Tensor& y,
                                   const torch::Tensor& guidance = {}) = 0;
  // The module that embeds the guidance inputs, "" when the network has none.
  virtual std::string guidance_module() const { return ""; }
  bool takes_guidance() const { return !guidance_module().empty(); }
  // That module's output to zero: the guidance inputs then change nothing. A no-op without one.
  virtual void zero_guidance() {}
  // With the (t, t - r) pair: the name of the module that embeds t - r, whose output layer
  // zero_second_time() sets to zero. The second time then adds nothing, and on a one-time
  // network's weights u(x, r, t) = v(x, t) for every r. "" and a no-op otherwise.
  virtual std::string second_time_module() const { return ""; }
  virtual void zero_second_time() {}
};

// model's two-time form; a one-time network is "model.type NAME takes one time; MeanFlow needs a
// two-time backbone ...".
IntervalBackbone& interval_of(Backbone& model);

}  // namespace flowlab
