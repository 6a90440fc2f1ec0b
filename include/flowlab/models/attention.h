// The attention every backbone uses (Vaswani et al. 2017).
#pragma once
#include <torch/torch.h>

namespace flowlab {

// softmax(q k^T / sqrt(d)) v for q, k, v: (N, heads, T, d) -> (N, heads, T, d). Written as matmul +
// softmax, so forward-mode AD (MeanFlow's JVP) passes through it.
torch::Tensor dot_product_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

}  // namespace flowlab
