// Throughput measurements behind the `benchmark` app: training steps, sampling, FID features and
// the data pipeline, each timed after a warm-up, with the device synchronised around the timing.
#pragma once
#include <torch/torch.h>

#include <string>

#include "flowlab/config.h"
#include "flowlab/data/dataset.h"
#include "flowlab/eval/features.h"

namespace flowlab {

struct Measurement {
  double images_per_second = 0;
  double seconds = 0;   // the timed part
  int64_t images = 0;   // images processed in the timed part
  int64_t nfe = 0;      // sampling: network evaluations per image
  int64_t parameters = 0;
  // The work per image by the rule of models/flops.h (matrix products and convolutions): training,
  // the loss's passes (for MeanFlow its JVP pass, and any guidance passes) plus a backward of
  // twice the network's forward; sampling, every network evaluation of the sampler with CFG.
  double flops_per_image = 0;
};

// `steps` optimizer steps (after `warmup`) of config's method and backbone, as the trainer makes
// them (loss, backward, clipping, AdamW, EMA), on random images of data.image_size with
// model.in_channels channels and random labels; batch = training.batch_size. With a
// profile_path, `steps` more steps run under LibTorch's autograd profiler, written there as a
// chrome trace (scripts/bench/profile_compare.py reads it).
Measurement time_training(const Config& config, int warmup, int steps, torch::Device device,
                          const std::string& profile_path = "");

// Samples sampling.num_samples images in batches of sampling.batch_size with config's sampler,
// steps and CFG scale, from an untrained model (one warm-up batch first).
Measurement time_sampling(const Config& config, torch::Device device);

// Features of `images` random images of size x size in batches of batch_size.
Measurement time_features(FeatureExtractor& extractor, int64_t images, int64_t size,
                          int64_t batch_size, torch::Device device);

// `steps` batches of batch_size from the Batcher (shuffle, flip, to float, to device).
Measurement time_data_pipeline(const Dataset& data, int64_t batch_size, int steps, torch::Device device);

// The process's peak resident set size so far, in bytes.
int64_t peak_rss_bytes();

}  // namespace flowlab
