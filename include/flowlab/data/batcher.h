// Epoch-wise shuffled batches over a Dataset. The permutation of epoch e depends only on
// (seed, e), so a resumed run sees exactly the batches it would have seen.
#pragma once
#include <torch/torch.h>

#include "flowlab/data/dataset.h"

namespace flowlab {

class Batcher {
 public:
  Batcher(const Dataset& data, int64_t batch_size, bool random_flip, int64_t seed,
          torch::Device device);

  int64_t batches_per_epoch() const { return batches_per_epoch_; }

  // The batch at global step `step` (epoch = step / batches_per_epoch); drops the last partial batch.
  Batch at_step(int64_t step);

 private:
  const Dataset& data_;
  int64_t batch_size_;
  bool random_flip_;
  int64_t seed_;
  torch::Device device_;
  int64_t batches_per_epoch_;
  int64_t cached_epoch_ = -1;
  torch::Tensor permutation_;
};

}  // namespace flowlab
