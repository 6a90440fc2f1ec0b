#include "flowlab/training/sampling_model.h"

#include "flowlab/methods/registry.h"
#include "flowlab/models/memory_format.h"
#include "flowlab/recipe.h"

namespace flowlab {

SamplingModel load_sampling_model(CheckpointReader& reader, const Config& config, const WeightChoice& weights,
                                  torch::Device device) {
  SamplingModel m;
  m.model = make_backbone(config);
  reader.load_weights(*m.model, weights);
  m.model->to(device);
  if (config.compute.channels_last) to_channels_last(*m.model);
  m.model->eval();
  m.method = make_method(config);
  return m;
}

void SamplingCheckpoint::load(const WeightChoice& weights, torch::Device device) {
  static_cast<SamplingModel&>(*this) = load_sampling_model(*reader, config, weights, device);
  codec = std::make_shared<LatentCodec>(config.model, device, vae_file, allow_vae_mismatch);
}

SamplingCheckpoint open_for_sampling(const std::string& path,
                                     const std::function<void(Config&)>& overrides) {
  SamplingCheckpoint c;
  c.reader = std::make_unique<CheckpointReader>(path);
  c.config = c.reader->config();
  if (overrides) overrides(c.config);
  c.config.model = c.reader->config().model;
  validate(c.config);
  return c;
}

}  // namespace flowlab
