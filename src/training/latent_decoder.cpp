#include "flowlab/training/latent_decoder.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "flowlab/error.h"
#include "flowlab/io/sha256.h"
#include "flowlab/training/autoencoder_file.h"

namespace flowlab {

LatentDecoder::LatentDecoder(const ModelConfig& model, torch::Device device, const std::string& vae_file,
                             bool allow_mismatch)
    : LatentDecoder(AutoencoderIdentity{model.vae, model.vae_sha256, model.vae_scaling_factor, model.vae_shift_factor},
                    device, vae_file, allow_mismatch) {}

LatentDecoder::LatentDecoder(const AutoencoderIdentity& autoencoder, torch::Device device,
                             const std::string& vae_file, bool allow_mismatch)
    : scaling_factor_(autoencoder.scaling_factor), shift_factor_(autoencoder.shift_factor) {
  if (autoencoder.path.empty()) return;
  auto path = vae_file.empty() ? autoencoder.path : vae_file;
  if (!std::filesystem::is_regular_file(path))
    throw Error("this latent model decodes through autoencoder " + path +
                ", which does not exist (moved? give its new place with --vae FILE)");
  auto sha256 = sha256_file(path);
  if (sha256 != autoencoder.sha256) {
    std::string message = "autoencoder " + path + " (SHA-256 " + sha256.substr(0, 12) +
                          ") is not the one these latents came from (" + autoencoder.sha256.substr(0, 12) + ")";
    if (!allow_mismatch) throw Error(message + "; --allow_vae_mismatch decodes with it anyway");
    spdlog::warn("{}; decoding with it as asked", message);
  }
  vae_ = load_autoencoder(path, 0);
  vae_->to(device);
}

torch::Tensor LatentDecoder::decode(const torch::Tensor& latents) const {
  if (!vae_) return latents;
  torch::NoGradGuard no_grad;
  const auto& o = vae_->options();
  if (latents.size(1) != o.latent_channels)
    throw Error("the model's samples have " + std::to_string(latents.size(1)) + " channels; the autoencoder's " +
                "latents have " + std::to_string(o.latent_channels));
  return vae_->decode(latents / scaling_factor_ + shift_factor_);
}

}  // namespace flowlab
