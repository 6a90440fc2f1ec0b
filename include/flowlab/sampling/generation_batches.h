// Generating many samples in batches, shared among the processes of a job. Batch b covers
// samples [b * batch_size, (b + 1) * batch_size); the processes take contiguous runs of batches, so
// gathering their images in rank order gives the samples in order. Batch b's noise, and whatever
// the sampler draws itself, comes from (seed, b): the images do not depend on the number of
// processes.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace flowlab {

struct GenerationBatch {
  int64_t index = 0;  // b
  int64_t start = 0;  // first sample
  int64_t count = 0;  // samples in the batch
};

// This process's batches of n samples (all of them in a single process).
std::vector<GenerationBatch> my_generation_batches(int64_t n, int64_t batch_size);

// (count, channels, size, size) standard normal noise for `batch`, on the CPU; also reseeds the
// default generator from (seed, batch) for the sampler's own draws (DDPM ancestral steps).
torch::Tensor generation_noise(uint64_t seed, const GenerationBatch& batch, int64_t channels, int64_t size);

}  // namespace flowlab
