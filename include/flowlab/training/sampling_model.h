// A checkpoint turned into something that samples: its backbone with weights, in eval mode on a
// device, and its method. generate_samples, evaluate_fid and inpaint all start here.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "flowlab/config.h"
#include "flowlab/methods/method.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/latent_codec.h"

namespace flowlab {

struct SamplingModel {
  BackbonePtr model;
  MethodPtr method;
};

// `config`: the checkpoint's config with the command's sampling overrides; the model section must
// be the checkpoint's. `weights`: the raw ones or an EMA's.
SamplingModel load_sampling_model(CheckpointReader& reader, const Config& config, const WeightChoice& weights,
                                  torch::Device device);

// A checkpoint opened for sampling, in two steps so that the process can join its job in between
// (dist/runtime.h's ProcessRuntime needs the config, the weights need the device):
//   auto checkpoint = open_for_sampling(path, overrides);
//   ProcessRuntime runtime(checkpoint.config);
//   checkpoint.load(weights, runtime.device());
struct SamplingCheckpoint : SamplingModel {
  std::unique_ptr<CheckpointReader> reader;
  Config config;  // the checkpoint's, the command's overrides on top, checked
  // A latent model's autoencoder: another file than the recorded model.vae (--vae), and whether
  // one with another SHA-256 may decode (--allow_vae_mismatch). Set before load().
  std::string vae_file;
  bool allow_vae_mismatch = false;
  std::shared_ptr<LatentCodec> codec;  // by load(); the identity for a pixel model

  // Builds the model with the chosen weights and the method, and a latent model's autoencoder.
  void load(const WeightChoice& weights, torch::Device device);
  // Samples as images: a latent model's through its autoencoder, a pixel model's unchanged.
  torch::Tensor to_pixels(const torch::Tensor& samples) const { return codec->decode(samples); }
};

// overrides: the command's flags over the checkpoint's config; the model section stays the
// checkpoint's, whatever they say.
SamplingCheckpoint open_for_sampling(const std::string& path,
                                     const std::function<void(Config&)>& overrides = nullptr);

}  // namespace flowlab
