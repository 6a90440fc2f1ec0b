// Backbones by name: `model.type` in YAML, `--model` on the command line.
#pragma once
#include <string>
#include <vector>

#include "flowlab/models/backbone.h"

namespace flowlab {

struct Config;

// Registered names, in the order --help lists them.
std::vector<std::string> backbone_names();

// Builds config.model.type for config.data.image_size; throws Error listing known names.
BackbonePtr make_backbone(const Config& config);

}  // namespace flowlab
