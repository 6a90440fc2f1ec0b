#include "flowlab/data/batcher.h"

#include "flowlab/data/transforms.h"
#include "flowlab/error.h"

namespace flowlab {

Batcher::Batcher(const Dataset& data, int64_t batch_size, bool random_flip, int64_t seed,
                 torch::Device device, BatchShard shard)
    : data_(data),
      batch_size_(batch_size),
      random_flip_(random_flip),
      seed_(seed),
      device_(device),
      shard_(shard.global > 0 ? shard : BatchShard{0, batch_size, batch_size}),
      batches_per_epoch_(data.size() / batch_size) {
  if (shard_.global != batch_size || shard_.first + shard_.rows > batch_size)
    throw Error("Batcher: shard rows [" + std::to_string(shard_.first) + ", " +
                std::to_string(shard_.first + shard_.rows) + ") of a global batch of " +
                std::to_string(shard_.global) + " do not fit batch_size " + std::to_string(batch_size));
  if (batches_per_epoch_ == 0)
    throw Error("training.batch_size = " + std::to_string(batch_size) + " exceeds the dataset's " +
                std::to_string(data.size()) + " images");
}

Batch Batcher::at_step(int64_t step, StepRandom& rng) {
  int64_t epoch = step / batches_per_epoch_;
  if (epoch != cached_epoch_) {
    auto gen = at::detail::createCPUGenerator(
        static_cast<uint64_t>(seed_) * 1000003ULL + static_cast<uint64_t>(epoch));
    permutation_ = torch::randperm(data_.size(), gen, torch::TensorOptions().dtype(torch::kInt64));
    cached_epoch_ = epoch;
  }
  int64_t start = (step % batches_per_epoch_) * batch_size_ + shard_.first;
  auto rows = permutation_.slice(0, start, start + shard_.rows);
  if (data_.is_latent()) {
    // A stored posterior per row (the mirrored image's for flipped rows), sampled.
    auto flip = random_flip_ ? rng.rand(shard_.rows, torch::kFloat32) < 0.5 : torch::Tensor();
    return data_.sample_latents(rows, flip, rng, device_);
  }
  auto batch = data_.batch(rows, device_);
  if (random_flip_) batch.images = random_horizontal_flip(batch.images, rng);
  return batch;
}

}  // namespace flowlab
