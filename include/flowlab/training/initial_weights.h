// training.init_from: the weights a run starts from (fine-tuning, not a resume).
#pragma once
#include <string>

#include "flowlab/config.h"
#include "flowlab/models/backbone.h"

namespace flowlab {

// Sets `model` (built for `config`) from `path`: a checkpoint's EMA weights, or a .safetensors file
// of the model's tensors by name (with the backbone's renaming of other tools' names). A two-time
// model (MeanFlow, model.time_pair t,t-r) also takes a one-time flow model's weights (a CFM
// checkpoint of the same backbone): every shared tensor, and the embedder of t - r with its
// output layer at zero, so that u(z, r, t) = v(z, t) for every r at the first step. Errors name
// the file and what does not fit.
void load_initial_weights(Network& model, const Config& config, const std::string& path);

}  // namespace flowlab
