#include "flowlab/training/initial_weights.h"

#include <spdlog/spdlog.h>

#include "flowlab/error.h"
#include "flowlab/io/safetensors.h"
#include "flowlab/models/registry.h"
#include "flowlab/recipe.h"
#include "flowlab/strings.h"
#include "flowlab/training/checkpoint.h"

namespace flowlab {
namespace {

// The network's two-time form; null for a one-time backbone and for the autoencoder.
IntervalBackbone* two_time_form(Network& network) {
  auto* backbone = dynamic_cast<Backbone*>(&network);
  return backbone ? backbone->interval() : nullptr;
}

}  // namespace

void load_initial_weights(Network& model, const Config& config, const std::string& path) {
  const std::string what = "training.init_from " + path;
  std::map<std::string, torch::Tensor> weights;
  if (ends_with(path, ".safetensors")) {
    weights = read_safetensors(path).tensors;
    const auto& entry = network_entry(config.model.type);
    if (entry.rename_weights) weights = entry.rename_weights(config, weights);
  } else {
    CheckpointReader pretrained(path);
    const auto& trained = pretrained.config();
    const auto& entry = network_entry(config.model.type);
    if (trained.model.type != config.model.type && trained.model.type != entry.one_time_form)
      throw Error(what + " holds a " + trained.model.type + " model; this run trains " + config.model.type);
    auto source = make_network(trained);
    pretrained.load_weights(*source, true);
    if (two_time_form(model) && !two_time_form(*source) && two_time_form(model)->second_time_module().empty())
      throw Error(what + " holds a one-time " + trained.method.name + " model, whose velocity v(z, t) a MeanFlow "
                  "model can start from only with model.time_pair t,t-r (its second time embedded apart)");
    weights = named_weights(*source);
    spdlog::info("initialised from the EMA weights of {} (step {})", path, pretrained.step());
  }
  // Modules the model has and the weights may lack, each starting at zero output so that the
  // model computes what the weights' model did: the second time's embedder (a one-time model's
  // weights: u(z, r, t) = v(z, t)) and the guidance inputs' embedder (a model trained without
  // meanflow.guidance_conditioning).
  auto* two_time = two_time_form(model);
  std::vector<std::string> absent;
  for (const auto& module : {two_time ? two_time->second_time_module() : "", two_time ? two_time->guidance_module() : ""}) {
    bool present = module.empty();
    for (const auto& [name, tensor] : weights)
      if (name.rfind(module + ".", 0) == 0) present = true;
    if (!present) absent.push_back(module);
  }
  load_named_weights(model, weights, what, absent);
  for (const auto& module : absent) {
    if (module == two_time->second_time_module()) two_time->zero_second_time();
    if (module == two_time->guidance_module()) two_time->zero_guidance();
    spdlog::info("{}: the weights have no {}; it starts at zero output", what, module);
  }
  if (ends_with(path, ".safetensors")) spdlog::info("initialised from the weights in {}", path);
}

}  // namespace flowlab
