#include "flowlab/methods/method.h"

#include "flowlab/error.h"

namespace flowlab {

torch::Tensor Method::per_pixel_loss(Backbone&, const torch::Tensor&, const torch::Tensor&, StepRandom&) {
  throw Error("method " + name() + " has no per-pixel loss (inpainting fine-tuning supports cfm)");
}

}  // namespace flowlab
