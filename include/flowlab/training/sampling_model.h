// A checkpoint turned into something that samples: its backbone with weights, in eval mode on a
// device, and its method. generate_samples, evaluate_fid and inpaint all start here.
#pragma once
#include "flowlab/config.h"
#include "flowlab/methods/method.h"
#include "flowlab/training/checkpoint.h"

namespace flowlab {

struct SamplingModel {
  BackbonePtr model;
  MethodPtr method;
};

// `config`: the checkpoint's config with the command's sampling overrides; the model section must
// be the checkpoint's. `ema` picks the EMA weights.
SamplingModel load_sampling_model(CheckpointReader& reader, const Config& config, bool ema,
                                  torch::Device device);

}  // namespace flowlab
