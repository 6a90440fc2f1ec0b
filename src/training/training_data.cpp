#include "flowlab/training/training_data.h"

#include <spdlog/spdlog.h>

#include "flowlab/error.h"
#include "flowlab/tasks/encode_latents.h"
#include "flowlab/training/latent_codec.h"

namespace flowlab {

Dataset load_training_data(const Config& config, torch::Device device) {
  const auto& m = config.model;
  if (m.vae.empty() || config.data.dataset == "latents") return load_dataset(config.data);
  std::string sha256;
  auto vae = load_recorded_autoencoder({m.vae, m.vae_sha256, m.vae_scaling_factor, m.vae_shift_factor}, "", false,
                                       "a run goes on with the autoencoder it began with", &sha256);
  const auto& o = vae->options();
  auto pixels = config.data;
  pixels.image_size = config.data.image_size * static_cast<int>(o.downsampling());
  auto images = load_dataset(pixels);
  if (images.channels() != o.in_channels)
    throw Error("autoencoder " + m.vae + " encodes " + std::to_string(o.in_channels) + "-channel images; data.dataset " +
                config.data.dataset + " has " + std::to_string(images.channels()));
  bool flips = random_flip_enabled(pixels, images);
  spdlog::info("encoding {} images at {}x{} through {} into {}x{}x{} latents{} (once, in memory)", images.size(),
               pixels.image_size, pixels.image_size, m.vae, o.latent_channels, config.data.image_size,
               config.data.image_size, flips ? ", with their mirrors" : "");
  AutoencoderIdentity identity{m.vae, sha256, o.scaling_factor, o.shift_factor};
  return encode_in_memory(*vae, identity, images, flips, 64, device);
}

}  // namespace flowlab
