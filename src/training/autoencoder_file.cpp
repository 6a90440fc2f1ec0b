#include "flowlab/training/autoencoder_file.h"

#include <filesystem>

#include "flowlab/config.h"
#include "flowlab/error.h"
#include "flowlab/io/safetensors.h"
#include "flowlab/strings.h"
#include "flowlab/training/checkpoint.h"

namespace flowlab {

std::shared_ptr<AutoencoderKL> load_autoencoder(const std::string& path, int64_t in_channels, int64_t image_size) {
  if (!std::filesystem::is_regular_file(path)) throw Error("autoencoder " + path + " does not exist");
  std::shared_ptr<AutoencoderKL> vae;
  if (ends_with(path, ".safetensors")) {
    auto file = read_safetensors(path);
    auto weights = file.tensors;
    auto flowlab_config = file.metadata.find("flowlab_config");
    if (flowlab_config != file.metadata.end()) {
      Config config;
      apply_config_text(config, flowlab_config->second);
      if (config.model.type != "autoencoder_kl")
        throw Error(path + " holds a " + config.model.type + " model, not an autoencoder");
      vae = std::make_shared<AutoencoderKL>(vae_options(config));
    } else {
      auto json = (std::filesystem::path(path).parent_path() / "config.json").string();
      if (!std::filesystem::is_regular_file(json))
        throw Error(path + " has no flowlab config, so its sizes come from diffusers' config.json beside it, "
                    "and there is none (" + json + ")");
      auto options = read_diffusers_vae_config(json);
      vae = std::make_shared<AutoencoderKL>(options);
      weights = diffusers_vae_names(weights, static_cast<int64_t>(options.block_out_channels.size()));
    }
    load_named_weights(*vae, weights, "autoencoder " + path);
  } else {
    CheckpointReader reader(path);
    if (reader.config().model.type != "autoencoder_kl")
      throw Error(path + " holds a " + reader.config().model.type + " model, not an autoencoder (train_vae)");
    vae = std::make_shared<AutoencoderKL>(vae_options(reader.config()));
    reader.load_weights(*vae, true);
  }
  vae->eval();
  if (in_channels > 0 && in_channels != vae->options().in_channels)
    throw Error("autoencoder " + path + " takes " + std::to_string(vae->options().in_channels) +
                "-channel images; these have " + std::to_string(in_channels));
  if (image_size > 0 && image_size % vae->options().downsampling() != 0)
    throw Error("data.image_size " + std::to_string(image_size) + " is not a multiple of autoencoder " + path +
                "'s downsampling factor " + std::to_string(vae->options().downsampling()));
  return vae;
}

}  // namespace flowlab
