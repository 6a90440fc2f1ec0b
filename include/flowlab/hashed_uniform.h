// Fixed pseudo-random values that Python computes exactly as C++ does (integer arithmetic):
// scripts/pytorch/flowlab_models.py's hashed_uniform. For test weights on both sides of a golden test and
// evaluate_fid --random_weights.
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace flowlab {

// u_j in [-1, 1), j < n, float64: a 32-bit integer hash of (j, k).
torch::Tensor hashed_uniform(int64_t n, int64_t k);

}  // namespace flowlab
