#include "flowlab/training/label_dropout.h"

namespace flowlab {

torch::Tensor drop_labels(const torch::Tensor& y, double p, int64_t null_label, StepRandom& rng) {
  if (null_label == 0) return torch::zeros_like(y);  // unconditional: the dataset's labels unused
  if (p <= 0.0) return y;
  auto drop = rng.rand(y.size(0), y.options().dtype(torch::kFloat32)) < p;
  return torch::where(drop, torch::full_like(y, null_label), y);
}

}  // namespace flowlab
