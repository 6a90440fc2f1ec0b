#include "flowlab/recipe.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "flowlab/data/registry.h"
#include "flowlab/error.h"
#include "flowlab/methods/registry.h"
#include "flowlab/models/registry.h"
#include "flowlab/named_entries.h"
#include "flowlab/sampling/sde_sampler.h"
#include "flowlab/sampling/time_grids.h"

namespace flowlab {
namespace {

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The backbone only `method` trains (the autoencoder for vae), or "" where it trains any other.
std::string reserved_backbone(const std::string& method) {
  for (const auto& b : network_entries())
    if (b.only_for_method == method) return b.name;
  return "";
}

}  // namespace

void validate_data(const Config& config) {
  validate_fields(config);
  const auto& dataset = dataset_entry(config.data.dataset);
  if (dataset.needs_data_dir && config.data.data_dir.empty())
    throw Error("config: data.dataset = " + dataset.name + " needs data.data_dir (--data_dir DIR)");
}

void validate(const Config& config) {
  validate_data(config);
  const auto& method = method_entry(config.method.name);
  const auto& backbone = network_entry(config.model.type);
  const auto samplers = sampler_names(method);
  if (!contains(samplers, config.sampling.sampler))
    throw not_one_of("sampling.sampler", config.sampling.sampler, samplers);
  if (!config.eval.sampler.empty() && !contains(samplers, config.eval.sampler))
    throw not_one_of("eval.sampler", config.eval.sampler, samplers);
  find_entry(time_grids(), config.sampling.schedule, "sampling.schedule");
  find_entry(sde_diffusions(), config.sampling.sde_diffusion, "sampling.sde_diffusion");
  if (method.two_time && backbone.two_time_form != backbone.name) {
    std::string two_time;
    for (const auto& b : network_entries())
      if (b.two_time_form == b.name) two_time += (two_time.empty() ? "" : " or ") + b.name;
    throw Error("config: method " + method.name + " needs a two-time backbone (model.type " +
                two_time + "), got model.type " + config.model.type);
  }
  const auto reserved = reserved_backbone(method.name);
  if (!reserved.empty() && config.model.type != reserved)
    throw Error("config: method " + method.name + " trains model.type " + reserved + ", got " + config.model.type);
  if (!backbone.only_for_method.empty() && backbone.only_for_method != method.name)
    throw Error("config: model.type " + backbone.name + " is trained by method " + backbone.only_for_method +
                " (train_" + backbone.only_for_method + "), not " + method.name);
  if (config.sampling.resample_repeats > 1 && !method.resamples)
    throw Error("config: sampling.resample_repeats applies to DDPM models only (method is " +
                method.name + ")");
  if (config.model.checkpointing && config.model.type == "autoencoder_kl")
    throw Error("config: model.checkpointing applies to the generative backbones (tiny_unet, dit), not "
                "autoencoder_kl");
  const auto& m = config.model;
  if ((!m.convention.empty() || m.learn_sigma) && m.type != "dit")
    throw Error("config: model.convention and model.learn_sigma describe a published DiT or SiT "
                "(model.type dit), not " + m.type);
  if (!m.convention.empty() && method.two_time)
    throw Error("config: model.convention " + m.convention + " is a one-time network's; method " + method.name +
                " trains two times");
  if (method.name == "ddpm" && config.ddpm.variance == "learned_range" && !m.learn_sigma)
    throw Error("config: ddpm.variance learned_range needs a network with a variance output (model.learn_sigma)");
  if (method.check) method.check(config);
  if (backbone.check) backbone.check(config);
}

Config for_method(Config config, const std::string& method, bool log) {
  const auto& entry = method_entry(method);
  if (config.method.name != method && log)
    spdlog::info("method.name is {} in the recipe; this program trains {}", config.method.name, method);
  config.method.name = method;
  if (!contains(sampler_names(entry), config.sampling.sampler)) {
    config.sampling.sampler = entry.samplers.front().name;
    if (entry.default_steps > 0) config.sampling.steps = entry.default_steps;
  }
  const auto reserved = reserved_backbone(method);
  if (!reserved.empty()) {
    config.model.type = reserved;
    return config;
  }
  const auto& backbone = network_entry(config.model.type);
  const auto& form = entry.two_time ? backbone.two_time_form : backbone.one_time_form;
  if (!form.empty()) config.model.type = form;
  return config;
}

NetworkPtr make_network(const Config& config) {
  auto network = network_entry(config.model.type).make(config, method_entry(config.method.name).two_time);
  if (auto* backbone = dynamic_cast<Backbone*>(network.get())) backbone->set_checkpointing(config.model.checkpointing);
  return network;
}

BackbonePtr make_backbone(const Config& config) {
  return as_backbone(make_network(config));
}

}  // namespace flowlab
