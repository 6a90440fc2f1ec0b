// An AutoencoderKL from a file, whatever wrote it:
//   - a train_vae checkpoint (.pt): its EMA weights, sizes from its config;
//   - a flowlab weights_ema.safetensors: sizes from the config in its metadata;
//   - Stable Diffusion's VAE as diffusers or CompVis name it (.safetensors): sizes from diffusers'
//     config.json beside it (needed), names through diffusers_vae_names().
#pragma once
#include <memory>
#include <string>

#include "flowlab/models/autoencoder_kl.h"

namespace flowlab {

// In eval mode, on the CPU. in_channels and image_size: when > 0, the images it will see; another
// channel count than the autoencoder's, or a size its downsampling does not divide, is an Error.
// Every problem (format, missing config.json, weights that do not fit the sizes) is one Error
// naming the file.
std::shared_ptr<AutoencoderKL> load_autoencoder(const std::string& path, int64_t in_channels = 0,
                                                int64_t image_size = 0);

}  // namespace flowlab
