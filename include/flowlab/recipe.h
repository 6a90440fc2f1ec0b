// A configuration as the programs use it: core's field rules, plus what the method, backbone and
// dataset it names say about themselves (their registry entries), and the two conversions that
// need both a method and a backbone.
#pragma once
#include <string>

#include "flowlab/config.h"
#include "flowlab/models/backbone.h"

namespace flowlab {

// validate_fields(), then the names against their registries (method, backbone, sampler, dataset)
// and each entry's own rules; throws Error naming the key.
void validate(const Config& config);

// validate_fields() and the dataset against its registry entry: for programs whose model comes from
// a file rather than the config (encode_latents, evaluate_vae).
void validate_data(const Config& config);

// The config a method's program runs, whatever method the recipe was written for: method.name set
// (one log line when the recipe named another), the sampler the method's default (with its
// default step count) unless the recipe names one of its samplers, and model.type in the method's
// form (tiny_unet <->
// tiny_unet_meanflow). With log = false nothing is logged.
Config for_method(Config config, const std::string& method, bool log = true);

// Builds config.model.type, in its two-time form when the method trains two times.
NetworkPtr make_network(const Config& config);
// The same, for a denoiser: Error for an autoencoder.
BackbonePtr make_backbone(const Config& config);

}  // namespace flowlab
