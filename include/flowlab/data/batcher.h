// Epoch-wise shuffled batches over a Dataset. The permutation of epoch e depends only on
// (seed, e), so a resumed run sees exactly the batches it would have seen. Under several
// processes each reads its rows (BatchShard) of every global batch: disjoint shards of the
// epoch's permutation.
#pragma once
#include <torch/torch.h>

#include "flowlab/data/dataset.h"
#include "flowlab/step_random.h"

namespace flowlab {

class Batcher {
 public:
  // batch_size: the global batch; shard.rows of it are read here (default: all).
  Batcher(const Dataset& data, int64_t batch_size, bool random_flip, int64_t seed,
          torch::Device device, BatchShard shard = {});

  int64_t batches_per_epoch() const { return batches_per_epoch_; }

  const BatchShard& shard() const { return shard_; }

  // This process's rows of the batch at global step `step` (epoch = step / batches_per_epoch);
  // drops the last partial batch. Flips draw from `rng`.
  Batch at_step(int64_t step, StepRandom& rng);

 private:
  const Dataset& data_;
  int64_t batch_size_;
  bool random_flip_;
  int64_t seed_;
  torch::Device device_;
  BatchShard shard_;
  int64_t batches_per_epoch_;
  int64_t cached_epoch_ = -1;
  torch::Tensor permutation_;
};

}  // namespace flowlab
