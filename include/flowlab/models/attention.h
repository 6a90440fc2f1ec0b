// The attention every backbone uses (Vaswani et al. 2017).
#pragma once
#include <torch/torch.h>

namespace flowlab {

// softmax(q k^T / sqrt(d)) v for q, k, v: (N, heads, T, d) -> (N, heads, T, d). Inputs carrying a
// forward-mode tangent (LibTorch dual tensors: MeanFlow's separate and shared passes) go through
// matmul + softmax, whose forward-mode formulas exist; the others use LibTorch 2.x's fused
// scaled_dot_product_attention where the build has it (sampling, CFM, DDPM, the fused pass's value).
torch::Tensor dot_product_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

}  // namespace flowlab
