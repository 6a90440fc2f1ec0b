// encode_latents: a dataset through an autoencoder's encoder once, into a latent dataset
// (data/latent_dataset.h) that training reads instead of encoding every step.
#pragma once
#include <functional>
#include <string>

#include "flowlab/data/dataset.h"
#include "flowlab/data/latent_dataset.h"
#include "flowlab/models/autoencoder_kl.h"

namespace flowlab {

struct EncodeLatentsOptions {
  int64_t batch_size = 64;
  int64_t shard_size = 10000;  // images per shard file
  bool flips = false;          // also encode each image's mirror (flips cannot be applied to latents)
  // The map into a diffusion model's scale, (z - shift) * scale: the autoencoder's own factors, or
  // with `normalize` the ones that give this dataset's latents mean 0 and std 1 (LDM's choice of
  // 0.18215 for SD made the std 1).
  bool normalize = false;
};

// The latents' statistics over a whole set, z = mean + std * eps pooled over every value.
struct LatentStatistics {
  double mean = 0, std = 0;
};

// Rows [first, last) of `data` through the encoder in batches of `batch_size` on `device`: their
// posteriors (and their mirrors' with `flips`) and labels, on the CPU. on_batch(rows) after each batch.
LatentShard encode_rows(AutoencoderKL& vae, const Dataset& data, int64_t first, int64_t last, int64_t batch_size,
                        bool flips, torch::Device device, const std::function<void(int64_t)>& on_batch = {});

// On-the-fly latents (model.vae with an image dataset): every image, and its mirror with `flips`,
// through the encoder once, into memory: the Dataset that encode_latents' files would load as.
Dataset encode_in_memory(AutoencoderKL& vae, const AutoencoderIdentity& identity, const Dataset& images, bool flips,
                         int64_t batch_size, torch::Device device);

// Encodes every image of `data` into DIR, shard by shard, then writes the index. A shard already
// in DIR from the same autoencoder is kept, so a stopped run resumes; one from another autoencoder
// is an Error. Under several processes, shard k is encoded by rank k % size and rank 0 writes the
// index once all are done. Returns the images encoded by this call on this process; `statistics`
// (rank 0) gets the latents' statistics.
int64_t encode_latents(AutoencoderKL& vae, AutoencoderIdentity identity, const Dataset& data,
                       const LatentSource& source, const EncodeLatentsOptions& options,
                       const std::string& dir, torch::Device device, LatentStatistics* statistics = nullptr);

}  // namespace flowlab
