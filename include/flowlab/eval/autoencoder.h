// How good an autoencoder is on held-out images: reconstruction PSNR and SSIM, rFID (the FID of
// the reconstructions against the originals), and the latents' statistics that choose
// scaling_factor (LDM rescales latents to unit standard deviation: scaling = 1 / std).
#pragma once
#include <torch/torch.h>

#include "flowlab/data/dataset.h"
#include "flowlab/eval/features.h"
#include "flowlab/models/autoencoder_kl.h"

namespace flowlab {

struct AutoencoderScores {
  int64_t images = 0;
  double psnr = 0, ssim = 0;  // mean per image, on the 8-bit images as saved
  double rfid = std::nan("");  // without a feature extractor: NaN
  double latent_mean = 0, latent_std = 0;  // of latents sampled from the posterior, unscaled
  torch::Tensor originals, reconstructions;  // the first 8 of each, [-1, 1], for a grid
};

// The first `count` images of `data`, in batches of batch_size on `device`. The latent samples
// draw from their own generator (seed 0), so a run repeats.
AutoencoderScores evaluate_autoencoder(AutoencoderKL& vae, const Dataset& data, int64_t count,
                                       int64_t batch_size, FeatureExtractor* extractor,
                                       torch::Device device);

}  // namespace flowlab
