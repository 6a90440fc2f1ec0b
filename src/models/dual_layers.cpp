#include "flowlab/models/dual_layers.h"

namespace flowlab {
namespace {

constexpr int64_t kLevel = 0;  // LibTorch supports one forward-AD level

}  // namespace

torch::Tensor conv_forward(torch::nn::Conv2d& conv, const torch::Tensor& x) {
  const auto& tangent = x._fw_grad(kLevel);
  if (!tangent.defined()) return conv(x);
  const auto& o = conv->options;
  TORCH_CHECK(c10::get_if<torch::enumtype::kZeros>(&o.padding_mode()) != nullptr,
              "conv_forward: zero padding only");
  auto primal = std::get<0>(at::_unpack_dual(x, kLevel));
  const auto& padding = c10::get<torch::ExpandingArray<2>>(o.padding());
  auto tangent_out = at::conv2d(tangent, conv->weight, {}, o.stride(), padding, o.dilation(), o.groups());
  return at::_make_dual(conv(primal), tangent_out, kLevel);
}

torch::Tensor linear_forward(torch::nn::Linear& linear, const torch::Tensor& x) {
  const auto& tangent = x._fw_grad(kLevel);
  if (!tangent.defined()) return linear(x);
  auto primal = std::get<0>(at::_unpack_dual(x, kLevel));
  return at::_make_dual(linear(primal), at::linear(tangent, linear->weight), kLevel);
}

}  // namespace flowlab
