// The pixels of a latent model's samples: its latents through the decoder of the autoencoder its
// config names (model.vae), after checking that the file is the one it was trained with.
#pragma once
#include <memory>
#include <string>

#include "flowlab/config.h"
#include "flowlab/data/latent_dataset.h"
#include "flowlab/models/autoencoder_kl.h"

namespace flowlab {

class LatentDecoder {
 public:
  // model.vae empty: a pixel model, and decode() returns its input. Otherwise loads `vae_file`
  // (model.vae when empty) and compares its SHA-256 with model.vae_sha256: another file is an
  // Error unless allow_mismatch. A missing file is an Error naming it and the flag that replaces it.
  LatentDecoder(const ModelConfig& model, torch::Device device, const std::string& vae_file = "",
                bool allow_mismatch = false);
  // The autoencoder a latent dataset names (its path, SHA-256 and scaling).
  LatentDecoder(const AutoencoderIdentity& autoencoder, torch::Device device, const std::string& vae_file = "",
                bool allow_mismatch = false);

  bool active() const { return vae_ != nullptr; }
  // How many times larger a decoded image's side is than its latents' (1 for a pixel model).
  int64_t downsampling() const { return vae_ ? vae_->options().downsampling() : 1; }
  // (N, c, h, w) latents in the model's scale -> (N, C, H, W) pixels, about [-1, 1] (not clamped).
  torch::Tensor decode(const torch::Tensor& latents) const;

 private:
  std::shared_ptr<AutoencoderKL> vae_;
  double scaling_factor_ = 1.0, shift_factor_ = 0.0;
};

}  // namespace flowlab
