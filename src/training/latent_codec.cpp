#include "flowlab/training/latent_codec.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "flowlab/error.h"
#include "flowlab/io/sha256.h"
#include "flowlab/training/autoencoder_file.h"

namespace flowlab {

LatentCodec::LatentCodec(const ModelConfig& model, torch::Device device, const std::string& vae_file,
                         bool allow_mismatch)
    : LatentCodec(AutoencoderIdentity{model.vae, model.vae_sha256, model.vae_scaling_factor, model.vae_shift_factor},
                    device, vae_file, allow_mismatch) {}

std::shared_ptr<AutoencoderKL> load_recorded_autoencoder(const AutoencoderIdentity& recorded,
                                                         const std::string& vae_file, bool allow_mismatch,
                                                         const std::string& refusal_hint, std::string* sha256) {
  auto path = vae_file.empty() ? recorded.path : vae_file;
  if (!std::filesystem::is_regular_file(path))
    throw Error("this latent model works through autoencoder " + path +
                ", which does not exist (moved? give its new place with --vae FILE)");
  auto actual = sha256_file(path);
  if (!recorded.sha256.empty() && actual != recorded.sha256) {
    std::string message = "autoencoder " + path + " (SHA-256 " + actual.substr(0, 12) +
                          ") is not the one this model was trained with (" + recorded.sha256.substr(0, 12) + ")";
    if (!allow_mismatch) throw Error(message + "; " + refusal_hint);
    spdlog::warn("{}; using it as asked", message);
  }
  if (sha256) *sha256 = actual;
  return load_autoencoder(path, 0);
}

LatentCodec::LatentCodec(const AutoencoderIdentity& autoencoder, torch::Device device,
                         const std::string& vae_file, bool allow_mismatch)
    : autoencoder_(autoencoder) {
  if (autoencoder.path.empty()) return;
  vae_ = load_recorded_autoencoder(autoencoder, vae_file, allow_mismatch, "--allow_vae_mismatch uses it anyway");
  vae_->to(device);
}

torch::Tensor LatentCodec::decode(const torch::Tensor& latents) const {
  if (!vae_) return latents;
  torch::NoGradGuard no_grad;
  const auto& o = vae_->options();
  if (latents.size(1) != o.latent_channels)
    throw Error("the model's samples have " + std::to_string(latents.size(1)) + " channels; the autoencoder's " +
                "latents have " + std::to_string(o.latent_channels));
  return vae_->decode(autoencoder_.from_model_scale(latents));
}

torch::Tensor LatentCodec::encode(const torch::Tensor& images) const {
  if (!vae_) return images;
  torch::NoGradGuard no_grad;
  return autoencoder_.to_model_scale(vae_->encode(images).mean);
}

}  // namespace flowlab
