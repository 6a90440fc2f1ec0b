#include "flowlab/methods/registry.h"

#include "flowlab/methods/cfm.h"
#include "flowlab/methods/ddpm.h"
#include "flowlab/methods/meanflow.h"
#include "flowlab/methods/mixed_precision.h"
#include "flowlab/methods/vae.h"
#include "flowlab/named_entries.h"

namespace flowlab {

const std::vector<MethodEntry>& method_entries() {
  static const std::vector<MethodEntry> entries = {cfm_entry(), ddpm_entry(), meanflow_entry(), vae_entry()};
  return entries;
}

const MethodEntry& method_entry(const std::string& name) {
  return find_entry(method_entries(), name, "method.name");
}

std::vector<std::string> method_names() {
  return entry_names(method_entries());
}

std::vector<std::string> sampler_names(const MethodEntry& method) {
  return entry_names(method.samplers);
}

MethodPtr make_method(const Config& config) {
  auto method = method_entry(config.method.name).make(config);
  if (config.compute.precision == "fp32") return method;
  auto device_type = config.training.device == "cuda" ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
  return std::make_unique<MixedPrecisionMethod>(std::move(method), device_type);
}

}  // namespace flowlab
