#include "flowlab/methods/registry.h"

#include "flowlab/config.h"
#include "flowlab/error.h"
#include "flowlab/methods/cfm.h"
#include "flowlab/methods/ddpm.h"
#include "flowlab/methods/meanflow.h"
#include "flowlab/methods/mixed_precision.h"
#include "flowlab/sampling/samplers.h"

namespace flowlab {

std::vector<std::string> method_names() { return {"cfm", "ddpm", "meanflow"}; }

std::vector<std::string> samplers_for(const std::string& method) {
  if (method == "ddpm") return {"ddpm", "ddim"};
  if (method == "meanflow") return {"meanflow"};
  return sampler_names();
}

torch::Tensor Method::per_pixel_loss(Backbone&, const torch::Tensor&, const torch::Tensor&, StepRandom&) {
  throw Error("method " + name() + " has no per-pixel loss (inpainting fine-tuning supports cfm)");
}

std::string default_backbone(const std::string& method) {
  return method == "meanflow" ? "tiny_unet_meanflow" : "tiny_unet";
}

namespace {

MethodPtr make_full_precision_method(const Config& config) {
  if (config.method.name == "cfm") return std::make_unique<CfmMethod>(config.method);
  if (config.method.name == "ddpm") return std::make_unique<DdpmMethod>(config.ddpm);
  if (config.method.name == "meanflow") return std::make_unique<MeanFlowMethod>(config.meanflow);
  std::string known;
  for (const auto& n : method_names()) known += " " + n;
  throw Error("unknown method.name '" + config.method.name + "' (known:" + known + ")");
}

}  // namespace

MethodPtr make_method(const Config& config) {
  auto method = make_full_precision_method(config);
  if (config.compute.precision == "fp32") return method;
  auto device_type = config.training.device == "cuda" ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
  return std::make_unique<MixedPrecisionMethod>(std::move(method), device_type);
}

}  // namespace flowlab
