// A dataset encoded once by an autoencoder (encode_latents): each image's posterior mean and std
// in the autoencoder's latent space, its label, and which autoencoder made them.
//
//   DIR/latents.json   the index, written last (its presence means the set is complete):
//       {"format": "flowlab-latents", "version": 1, "images": N, "latent_shape": [c, h, w],
//        "shard_size": S, "shards": ["shard-00000.safetensors", ...], "flips": bool,
//        "class_names": [...], "vae": {"path", "sha256", "scaling_factor", "shift_factor"},
//        "source": {"dataset", "split", "image_size", "fit"}}
//   DIR/shard-KKKKK.safetensors   rows [K S, K S + n): "mean" and "std" (float32, (n, c, h, w)),
//       "labels" (int64, (n,)); with flips also "flip_mean" and "flip_std", the posterior of the
//       mirrored image. Metadata: "vae_sha256", "first_row".
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace flowlab {

// The autoencoder latents belong to: its file, that file's SHA-256, and the affine map from its
// latents to a diffusion model's, (z - shift_factor) * scaling_factor.
struct AutoencoderIdentity {
  std::string path;
  std::string sha256;
  double scaling_factor = 1.0;
  double shift_factor = 0.0;

  torch::Tensor to_model_scale(const torch::Tensor& z) const { return (z - shift_factor) * scaling_factor; }
  torch::Tensor from_model_scale(const torch::Tensor& x) const { return x / scaling_factor + shift_factor; }
};

// Where the images came from.
struct LatentSource {
  std::string dataset, split, fit;
  int64_t image_size = 0;
};

struct LatentShard {
  torch::Tensor mean, std, labels;      // (n, c, h, w) float32 twice, (n,) int64
  torch::Tensor flip_mean, flip_std;    // undefined without flips
};

struct LatentDataset {
  LatentShard rows;  // every shard's rows, in order
  std::vector<std::string> class_names;
  AutoencoderIdentity vae;
  LatentSource source;
  bool flips = false;

  int64_t size() const { return rows.mean.size(0); }
};

std::string latent_shard_name(int64_t shard);
// Writes DIR/shard-KKKKK.safetensors atomically.
void write_latent_shard(const std::string& dir, int64_t shard, int64_t first_row, const LatentShard& rows,
                        const std::string& vae_sha256);
// A shard's rows, checked: the tensors a shard needs (the flipped posterior too when `flips`; it
// is read whenever present), with agreeing shapes, float32/int64. Throws Error naming the file.
LatentShard read_latent_shard(const std::string& path, bool flips, std::string* vae_sha256 = nullptr);

// Writes DIR/latents.json for `images` rows in shards of `shard_size`.
void write_latent_index(const std::string& dir, int64_t images, int64_t shard_size,
                        const std::vector<int64_t>& latent_shape, bool flips,
                        const std::vector<std::string>& class_names, const AutoencoderIdentity& vae,
                        const LatentSource& source);
// Reads the index and every shard; each must match the index (rows, shape, autoencoder).
// Every problem is one Error naming the file.
LatentDataset read_latent_dataset(const std::string& dir);

}  // namespace flowlab
