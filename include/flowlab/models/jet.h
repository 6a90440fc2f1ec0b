// A value with a tangent that autograd never sees: MeanFlow's fused JVP pass (meanflow.jvp_pass:
// fused). The value is computed as the plain forward computes it, with its graph for the
// backward pass; the tangent (its derivative along a direction in the inputs) is computed under
// no-grad from the value's detached intermediates, so one pass gives u with its graph and du/dt
// without one. An undefined tangent is zero, and every op then is the plain op alone: the
// backbones' forward passes are written once, over jets.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

namespace flowlab {

struct Jet {
  torch::Tensor value;
  torch::Tensor tangent;  // undefined = zero
  Jet() = default;
  Jet(torch::Tensor v) : value(std::move(v)) {}  // NOLINT: a plain tensor is a jet without tangent
  Jet(torch::Tensor v, torch::Tensor t) : value(std::move(v)), tangent(std::move(t)) {}
  bool has_tangent() const { return tangent.defined(); }
};

namespace jet {

// Ops that act on value and tangent alike (reshape, permute, slice, nearest upsampling, dtype).
Jet map(const Jet& x, const std::function<torch::Tensor(const torch::Tensor&)>& f);
Jet add(const Jet& a, const Jet& b);
Jet mul(const Jet& a, const Jet& b);
Jet cat(const std::vector<Jet>& parts, int64_t dim);
std::vector<Jet> chunk(const Jet& x, int64_t chunks, int64_t dim);

// Layers; the tangent never sees a bias (zero padding only for convolutions). The value goes
// through `value_op` where given, so LibTorch dual tensors (the separate and shared passes) keep
// working: conv_forward / linear_forward of models/dual_layers.h.
Jet conv(torch::nn::Conv2d& conv, const Jet& x);
Jet linear(torch::nn::Linear& linear, const Jet& x);
Jet silu(const Jet& x);
Jet gelu_tanh(const Jet& x);
// GroupNorm with its affine weights; `normalize` computes the value (dtype and layout care).
Jet group_norm(torch::nn::GroupNorm& norm, const Jet& x,
               const std::function<torch::Tensor(const torch::Tensor&)>& normalize);
// LayerNorm over the last dimension without affine weights.
Jet layer_norm(const Jet& x, double eps);
// Inverted dropout with one mask for value and tangent.
Jet dropout(const Jet& x, double p, bool training);
// softmax(q k^T / sqrt(d)) v over (..., T, d).
Jet attention(const Jet& q, const Jet& k, const Jet& v);
// [cos(1000 t f) | sin(1000 t f)] (models/embeddings.h's sinusoidal_embedding) of t: (N,).
Jet sinusoidal(const Jet& t, int64_t dim);

}  // namespace jet
}  // namespace flowlab
