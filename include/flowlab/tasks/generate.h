// Generation from an opened checkpoint: batches, their noise, a latent model's decoding, and the
// processes of a job sharing the work. generate_samples and the public API (flowlab.h) run it.
#pragma once
#include <torch/torch.h>

#include <cstdint>

#include "flowlab/sampling/trajectory.h"
#include "flowlab/training/sampling_model.h"

namespace flowlab {

struct Generated {
  torch::Tensor images;  // (N, C, H, W) in [-1, 1]: decoded, not clamped
  torch::Tensor raw;     // (N, C', H', W'): the sampler's output in the model's space, when kept
  int64_t nfe = 0;          // the sampler's network calls per image (a CFG double batch counts once)
  int64_t evaluations = 0;  // network evaluations per image (a CFG double batch counts twice)
};

// Every image for `labels` (N,), batch by batch with each batch's noise from (seed, batch)
// (sampling/generation_batches.h) or from `given_noise` (N, C, H, W) when defined, the processes
// of a job sharing the batches; every process gets all images, and with keep_raw the sampler's
// outputs. The trajectory, when given, records the first batch.
Generated generate(const SamplingCheckpoint& checkpoint, const torch::Tensor& labels, uint64_t seed,
                   const torch::Tensor& given_noise, bool keep_raw, torch::Device device,
                   TrajectoryRecorder* trajectory = nullptr);

}  // namespace flowlab
