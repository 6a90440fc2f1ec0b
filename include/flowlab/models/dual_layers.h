// Convolution and linear layers for inputs that may carry a forward-mode tangent (MeanFlow's JVP,
// forward-AD level 0) while the layer's weights carry none. LibTorch's forward-mode formulas for
// convolution and matrix products compute W x' + W' x and materialise the weights' missing tangent
// W' as zeros, which costs one more full convolution or product per layer. These return the same
// dual output (W x + b, W x') without that product. Without a tangent they are the layer's forward.
#pragma once
#include <torch/torch.h>

namespace flowlab {

// x: (N, C_in, H, W), optionally dual -> (N, C_out, H', W'), dual when x is. Zero padding only.
torch::Tensor conv_forward(torch::nn::Conv2d& conv, const torch::Tensor& x);

// x: (..., in_features), optionally dual -> (..., out_features), dual when x is.
torch::Tensor linear_forward(torch::nn::Linear& linear, const torch::Tensor& x);

}  // namespace flowlab
