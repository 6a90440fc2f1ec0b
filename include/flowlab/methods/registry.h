// Methods by name: `method.name` in YAML; each training app fixes its own.
#pragma once
#include <string>
#include <vector>

#include "flowlab/methods/method.h"

namespace flowlab {

struct Config;

std::vector<std::string> method_names();
// The method of config.method.name; under compute.precision = bf16 its network passes run in
// bf16 autocast on training.device (methods/mixed_precision.h).
MethodPtr make_method(const Config& config);

// The backbone a method's training app starts from (a two-time one for meanflow).
std::string default_backbone(const std::string& method);

// The samplers a method's models accept; the first is its default.
std::vector<std::string> samplers_for(const std::string& method);

}  // namespace flowlab
