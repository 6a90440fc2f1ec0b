// Classifier-free guidance's training side (Ho & Salimans 2022): labels dropped to the null class.
#pragma once
#include <torch/torch.h>

#include "flowlab/step_random.h"

namespace flowlab {

// y: (N,) -> each label replaced by null_label with probability p. An
// unconditional model (null_label 0) gets the null label in every row, whatever the dataset's labels.
torch::Tensor drop_labels(const torch::Tensor& y, double p, int64_t null_label, StepRandom& rng);

}  // namespace flowlab
