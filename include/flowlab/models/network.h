// The trainable network, as the training machinery (its state, EMAs, checkpoints and weight files)
// holds it. Two kinds derive from it: Backbone, the denoiser that the generative methods train and
// every sampler calls (models/backbone.h), and AutoencoderKL, which method vae trains
// (models/autoencoder_kl.h).
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>

namespace flowlab {

class Network : public torch::nn::Module {
 public:
  // Registry key (model.type: "tiny_unet", "autoencoder_kl", ...), stored in checkpoints.
  virtual std::string type_name() const = 0;
  int64_t parameter_count() const;
};

using NetworkPtr = std::shared_ptr<Network>;

}  // namespace flowlab
