#include "flowlab/recipe.h"
#include "flowlab/training/sampling_model.h"

#include "flowlab/methods/registry.h"
#include "flowlab/models/memory_format.h"

namespace flowlab {

SamplingModel load_sampling_model(CheckpointReader& reader, const Config& config, bool ema,
                                  torch::Device device) {
  SamplingModel m;
  m.model = make_backbone(config);
  reader.load_weights(*m.model, ema);
  m.model->to(device);
  if (config.compute.channels_last) to_channels_last(*m.model);
  m.model->eval();
  m.method = make_method(config);
  return m;
}

}  // namespace flowlab
