// A latent model's autoencoder, the one its config names (model.vae) after checking that the file
// is the one it was trained with: its samples to pixels through the decoder, and images to latents
// through the encoder (inpainting's known region). For a pixel model both are the identity.
#pragma once
#include <memory>
#include <string>

#include "flowlab/config.h"
#include "flowlab/data/latent_dataset.h"
#include "flowlab/models/autoencoder_kl.h"

namespace flowlab {

// The autoencoder `recorded` names, or `vae_file` in its place when given, on the CPU. A missing
// file is an Error naming the flag that replaces it (--vae). A SHA-256 other than the recorded one
// (when one is recorded) is an Error ending in `refusal_hint`, or only a warning with
// allow_mismatch. `sha256` gets the file's.
std::shared_ptr<AutoencoderKL> load_recorded_autoencoder(const AutoencoderIdentity& recorded,
                                                         const std::string& vae_file, bool allow_mismatch,
                                                         const std::string& refusal_hint,
                                                         std::string* sha256 = nullptr);

class LatentCodec {
 public:
  LatentCodec() = default;  // a pixel model's
  // model.vae empty: a pixel model, whose encode() and decode() return their input. Otherwise
  // load_recorded_autoencoder(model.vae, its SHA-256 and factors; vae_file, allow_mismatch).
  LatentCodec(const ModelConfig& model, torch::Device device, const std::string& vae_file = "",
              bool allow_mismatch = false);
  // The autoencoder a latent dataset names (its path, SHA-256 and scaling).
  LatentCodec(const AutoencoderIdentity& autoencoder, torch::Device device, const std::string& vae_file = "",
              bool allow_mismatch = false);

  bool active() const { return vae_ != nullptr; }
  // How many times larger a decoded image's side is than its latents' (1 for a pixel model).
  int64_t downsampling() const { return vae_ ? vae_->options().downsampling() : 1; }
  // Channels of the images the autoencoder takes (`model_channels` for a pixel model).
  int64_t image_channels(int64_t model_channels) const { return vae_ ? vae_->options().in_channels : model_channels; }
  // (N, c, h, w) latents in the model's scale -> (N, C, H, W) pixels, about [-1, 1] (not clamped).
  torch::Tensor decode(const torch::Tensor& latents) const;
  // (N, C, H, W) images in [-1, 1] -> their posterior means in the model's scale.
  torch::Tensor encode(const torch::Tensor& images) const;

 private:
  std::shared_ptr<AutoencoderKL> vae_;
  AutoencoderIdentity autoencoder_;  // its scaling and shift
};

}  // namespace flowlab
