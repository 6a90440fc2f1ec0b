#include "flowlab/tasks/generate.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "flowlab/dist/world.h"
#include "flowlab/sampling/generation_batches.h"
#include "flowlab/sampling/graphed_sampling.h"

namespace flowlab {

Generated generate(const SamplingCheckpoint& checkpoint, const torch::Tensor& labels, uint64_t seed,
                   const torch::Tensor& given_noise, bool keep_raw, torch::Device device,
                   TrajectoryRecorder* trajectory) {
  const auto& config = checkpoint.config;
  int64_t n = labels.size(0), c = config.model.in_channels, size = config.data.image_size;
  std::vector<torch::Tensor> images, raw;
  Generated out;
  std::unique_ptr<GraphedSampling> graphed;
  if (config.compute.cuda_graphs)
    graphed = std::make_unique<GraphedSampling>(*checkpoint.method, *checkpoint.model, config.sampling, device);
  for (const auto& batch : my_generation_batches(n, config.sampling.batch_size)) {
    auto noise = (given_noise.defined() ? given_noise.slice(0, batch.start, batch.start + batch.count)
                                        : generation_noise(seed, batch, c, size))
                     .to(device);
    auto y = labels.slice(0, batch.start, batch.start + batch.count).to(device);
    StepHook hook = trajectory && batch.start == 0 ? trajectory->start(noise) : nullptr;
    auto sample = graphed && !hook ? (*graphed)(noise, y)
                                   : checkpoint.method->sample(*checkpoint.model, noise, y, config.sampling, hook);
    out.nfe = sample.nfe;
    out.evaluations = sample.evaluations;
    if (keep_raw) raw.push_back(sample.x.cpu());
    images.push_back(checkpoint.to_pixels(sample.x).cpu());
    spdlog::info("generated {}/{}", batch.start + batch.count, n);
  }
  out.images = dist::world().gather_rows(torch::cat(images));  // every process has a batch
  if (keep_raw) out.raw = dist::world().gather_rows(torch::cat(raw));
  return out;
}

}  // namespace flowlab
