#include "flowlab/methods/registry.h"

#include "flowlab/methods/cfm.h"
#include "flowlab/methods/ddpm.h"
#include "flowlab/methods/meanflow.h"
#include "flowlab/methods/mixed_precision.h"
#include "flowlab/methods/vae.h"

namespace flowlab {

const std::vector<MethodEntry>& method_entries() {
  static const std::vector<MethodEntry> entries = {cfm_entry(), ddpm_entry(), meanflow_entry(), vae_entry()};
  return entries;
}

const MethodEntry& method_entry(const std::string& name) {
  for (const auto& e : method_entries())
    if (e.name == name) return e;
  throw not_one_of("method.name", name, method_names());
}

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& e : method_entries()) names.push_back(e.name);
  return names;
}

MethodPtr make_method(const Config& config) {
  auto method = method_entry(config.method.name).make(config);
  if (config.compute.precision == "fp32") return method;
  auto device_type = config.training.device == "cuda" ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
  return std::make_unique<MixedPrecisionMethod>(std::move(method), device_type);
}

}  // namespace flowlab
