#include "flowlab/sampling/graphed_sampling.h"

#include <spdlog/spdlog.h>

#include "flowlab/sampling/guidance.h"

namespace flowlab {

std::string not_capturable(const SamplingConfig& sampling, torch::Device device) {
  if (sampling.sampler == "rk45") return "rk45 chooses its steps from the error it measures on the device";
  if (sampling.cfg_scale != 1.0 && !GuidanceInterval{sampling.cfg_t_min, sampling.cfg_t_max}.everywhere())
    return "a guidance interval [cfg_t_min, cfg_t_max] decides per step on the device which rows are guided";
  return cuda_graphs_unavailable(device);
}

GraphedSampling::GraphedSampling(Method& method, Backbone& model, SamplingConfig sampling, torch::Device device)
    : method_(method), model_(model), sampling_(std::move(sampling)), device_(device) {
  const auto why = not_capturable(sampling_, device_);
  capture_ = why.empty();
  if (!capture_) spdlog::warn("compute.cuda_graphs: sampling runs eagerly: {}", why);
}

SampleOutput GraphedSampling::operator()(const torch::Tensor& noise, const torch::Tensor& y) {
  if (!capture_) return method_.sample(model_, noise, y, sampling_);
  auto& recorded = by_shape_[noise.sizes().vec()];
  if (recorded.calls++ == 0) return method_.sample(model_, noise, y, sampling_);  // the warm-up
  if (!recorded.graph) {
    recorded.noise = noise.clone();
    recorded.y = y.clone();
    recorded.graph = std::make_unique<CapturedWork>(
        [&] { recorded.out = method_.sample(model_, recorded.noise, recorded.y, sampling_); }, device_,
        "sampler " + sampling_.sampler);
  } else {
    recorded.noise.copy_(noise);
    recorded.y.copy_(y);
  }
  recorded.graph->replay();
  return {recorded.out.x.clone(), recorded.out.nfe, recorded.out.evaluations};
}

}  // namespace flowlab
