// The dataset a training run reads (train_cfm, train_ddpm, train_meanflow): the one data.dataset
// names, or with model.vae and an image dataset its images encoded into latents once, in memory.
#pragma once
#include <torch/torch.h>

#include "flowlab/config.h"
#include "flowlab/data/dataset.h"

namespace flowlab {

// On-the-fly latents (model.vae set, data.dataset not latents): data.image_size is the latent grid,
// so the images are loaded at data.image_size times the autoencoder's downsampling (256 for a
// 32x32 grid through Stable Diffusion's VAE) and encoded on `device`, with their mirrors when
// training flips them. The autoencoder's own scaling and shift factors map its latents into the
// model's scale. A SHA-256 recorded in model.vae_sha256 (a resumed run) must be the file's.
Dataset load_training_data(const Config& config, torch::Device device);

}  // namespace flowlab
