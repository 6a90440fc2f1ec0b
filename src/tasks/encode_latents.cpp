#include "flowlab/tasks/encode_latents.h"

#include <cmath>
#include <filesystem>

#include "flowlab/dist/world.h"
#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/progress.h"

namespace flowlab {
namespace {

// Whether DIR already holds shard k, complete, from this autoencoder.
bool shard_done(const std::string& path, int64_t rows, bool flips, const std::string& sha256) {
  if (!std::filesystem::is_regular_file(path)) return false;
  std::string shard_sha;
  auto shard = read_latent_shard(path, false, &shard_sha);
  if (shard_sha != sha256)
    throw Error(path + " was encoded by another autoencoder (SHA-256 " + shard_sha + "); use a new --output");
  return shard.mean.size(0) == rows && shard.flip_mean.defined() == flips;
}

}  // namespace

LatentShard encode_rows(AutoencoderKL& vae, const Dataset& data, int64_t first, int64_t last, int64_t batch_size,
                        bool flips, torch::Device device, const std::function<void(int64_t)>& on_batch) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> mean, std, flip_mean, flip_std;
  for (int64_t start = first; start < last; start += batch_size) {
    auto end = std::min(last, start + batch_size);
    auto x = data.batch(torch::arange(start, end), device).images;
    auto posterior = vae.encode(x);
    mean.push_back(posterior.mean.cpu());
    std.push_back(posterior.std().cpu());
    if (flips) {
      auto mirrored = vae.encode(torch::flip(x, {3}));
      flip_mean.push_back(mirrored.mean.cpu());
      flip_std.push_back(mirrored.std().cpu());
    }
    if (on_batch) on_batch(end - start);
  }
  LatentShard shard;
  shard.mean = torch::cat(mean);
  shard.std = torch::cat(std);
  shard.labels = data.labels.slice(0, first, last).clone();
  if (flips) {
    shard.flip_mean = torch::cat(flip_mean);
    shard.flip_std = torch::cat(flip_std);
  }
  return shard;
}

Dataset encode_in_memory(AutoencoderKL& vae, const AutoencoderIdentity& identity, const Dataset& images, bool flips,
                         int64_t batch_size, torch::Device device) {
  vae.to(device);
  vae.eval();
  Progress progress("encode", images.size(), "img");
  int64_t done = 0;
  auto rows = encode_rows(vae, images, 0, images.size(), batch_size, flips, device, [&](int64_t n) {
    done += n;
    progress.update(done);
  });
  return latent_training_set(std::move(rows), images.class_names, identity, "latents of " + images.name);
}

int64_t encode_latents(AutoencoderKL& vae, AutoencoderIdentity identity, const Dataset& data,
                       const LatentSource& source, const EncodeLatentsOptions& options,
                       const std::string& dir, torch::Device device, LatentStatistics* statistics) {
  if (options.batch_size <= 0 || options.shard_size <= 0)
    throw Error("encode_latents: batch size and shard size must be positive");
  ensure_directory(dir);
  auto& world = dist::world();
  // The index marks a complete set: gone until this run completes it.
  if (world.rank() == 0) std::filesystem::remove(std::filesystem::path(dir) / "latents.json");
  world.barrier();
  torch::NoGradGuard no_grad;
  vae.to(device);
  vae.eval();
  const int64_t images = data.size(), shards = (images + options.shard_size - 1) / options.shard_size;

  // This process's shards that still need encoding.
  std::vector<int64_t> todo;
  int64_t mine = 0;
  for (int64_t k = world.rank(); k < shards; k += world.size()) {
    int64_t rows = std::min(options.shard_size, images - k * options.shard_size);
    mine += rows;
    auto path = (std::filesystem::path(dir) / latent_shard_name(k)).string();
    if (!shard_done(path, rows, options.flips, identity.sha256)) todo.push_back(k);
  }
  int64_t remaining = 0;
  for (auto k : todo) remaining += std::min(options.shard_size, images - k * options.shard_size);

  Progress progress("encode", mine, "img", mine - remaining);
  int64_t done = mine - remaining;
  for (auto k : todo) {
    const int64_t first = k * options.shard_size, last = std::min(images, first + options.shard_size);
    auto shard = encode_rows(vae, data, first, last, options.batch_size, options.flips, device, [&](int64_t rows) {
      done += rows;
      progress.update(done);
    });
    write_latent_shard(dir, k, first, shard, identity.sha256);
  }
  world.barrier();
  if (world.rank() == 0) {
    // Every process wrote or kept its shards: the shape and statistics come from the files.
    // E[z] and E[z^2] of z = mean + std * eps, pooled over every value.
    double sum = 0, sum_sq = 0, values = 0;
    std::vector<int64_t> shape;
    for (int64_t k = 0; k < shards; ++k) {
      auto shard = read_latent_shard((std::filesystem::path(dir) / latent_shard_name(k)).string(), options.flips);
      shape = shard.mean.sizes().slice(1).vec();
      auto mean = shard.mean.to(torch::kFloat64), std = shard.std.to(torch::kFloat64);
      sum += mean.sum().item<double>();
      sum_sq += (mean.pow(2) + std.pow(2)).sum().item<double>();
      values += static_cast<double>(mean.numel());
    }
    LatentStatistics stats;
    stats.mean = sum / values;
    stats.std = std::sqrt(std::max(0.0, sum_sq / values - stats.mean * stats.mean));
    if (options.normalize) {
      if (stats.std <= 0) throw Error("encode_latents: the latents have no spread to normalise");
      identity.scaling_factor = 1.0 / stats.std;
      identity.shift_factor = stats.mean;
    }
    if (statistics) *statistics = stats;
    write_latent_index(dir, images, options.shard_size, shape, options.flips, data.class_names, identity, source);
  }
  world.barrier();
  return remaining;
}

}  // namespace flowlab
