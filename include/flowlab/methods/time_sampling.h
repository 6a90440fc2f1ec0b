// Training-time distributions over t in [0, 1].
#pragma once
#include <torch/torch.h>

#include <string>

namespace flowlab {

// (n,) float times: "uniform" U(0, 1), or "logit_normal" sigmoid(N(mean, std))
// (Esser et al. 2024, rectified-flow transformers).
torch::Tensor sample_times(const std::string& distribution, int64_t n, double logit_mean,
                           double logit_std, const torch::TensorOptions& options);

}  // namespace flowlab
