// One in-memory image dataset: every source (CIFAR-10, MNIST, image folder, shapes) loads into this.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "flowlab/data/latent_dataset.h"
#include "flowlab/step_random.h"

namespace flowlab {

struct DataConfig;

struct Batch {
  torch::Tensor images;  // float (N, C, H, W): pixels in [-1, 1], or latents in the model's scale
  torch::Tensor labels;  // int64 (N,)
  torch::Tensor noise;   // float (N, C, H, W): each image's own noise (couplings), else undefined
};

struct Dataset {
  std::string name;
  torch::Tensor images;  // uint8 (N, C, H, W); float32 for latents (posterior means) and couplings
  torch::Tensor labels;  // int64 (N,); all 0 for unconditional sets
  std::vector<std::string> class_names;  // empty for unconditional sets
  // A latent dataset (data.dataset latents) only: the posterior's std, the mirrored images'
  // posterior (undefined unless encoded with flips), and the autoencoder they belong to.
  torch::Tensor latent_std, flip_mean, flip_std;
  AutoencoderIdentity autoencoder;
  // Couplings (data/couplings.h) only: the noise each image was made from, float32 (N, C, H, W).
  torch::Tensor noise;

  bool is_latent() const { return latent_std.defined(); }
  bool is_couplings() const { return noise.defined(); }
  int64_t size() const { return images.size(0); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  int64_t channels() const { return images.size(1); }
  int64_t height() const { return images.size(2); }
  int64_t width() const { return images.size(3); }
  std::vector<int64_t> class_counts() const;

  // Images at `indices` (int64, any device) as float in [-1, 1], moved to `device`; for a latent
  // dataset the posterior means in the model's scale, (mean - shift_factor) * scaling_factor; for
  // couplings the stored images as they are, with their noise.
  Batch batch(const torch::Tensor& indices, torch::Device device = torch::kCPU) const;
  // A latent dataset's training rows (fast-DiT's recipe): z = mean + std * eps from each stored
  // posterior, the mirrored image's where `flip` (bool (n,), or undefined for none) is true, in the
  // model's scale. eps comes from `rng`.
  Batch sample_latents(const torch::Tensor& indices, const torch::Tensor& flip, StepRandom& rng,
                       torch::Device device = torch::kCPU) const;
};

// A latent dataset over stored posteriors (encode_latents' files, or images encoded in memory):
// `images` holds the means.
Dataset latent_training_set(LatentShard rows, std::vector<std::string> class_names, AutoencoderIdentity autoencoder,
                            std::string name);

// Loads the dataset named by config.dataset, resized to config.image_size.
Dataset load_dataset(const DataConfig& config);
// The fit load_dataset applies when a dataset's images are not image_size already: data.fit, or
// for "auto" the dataset's own choice (data/registry.cpp).
std::string resolved_fit(const DataConfig& config);
// Whether training flips images horizontally: data.random_flip, where "auto" is the dataset's own
// choice (every dataset but MNIST; a latent dataset when it was encoded with flips). Throws Error
// for "true" on a latent dataset encoded without them.
bool random_flip_enabled(const DataConfig& config, const Dataset& data);

}  // namespace flowlab
