#include "flowlab/models/dual_layers.h"

namespace flowlab {
namespace {

constexpr int64_t kLevel = 0;  // LibTorch supports one forward-AD level

}  // namespace

torch::Tensor conv_forward(torch::nn::Conv2d& conv, const torch::Tensor& x) {
  const auto& tangent = x._fw_grad(kLevel);
  if (!tangent.defined()) return conv(x);
  const auto& o = conv->options;
  TORCH_CHECK(torch::enumtype::get_enum_name(o.padding_mode()) == "kZeros",
              "conv_forward: zero padding only");
  namespace F = torch::nn::functional;
  auto tangent_out = F::conv2d(
      tangent, conv->weight,
      F::Conv2dFuncOptions().stride(o.stride()).padding(o.padding()).dilation(o.dilation()).groups(o.groups()));
  auto primal = std::get<0>(at::_unpack_dual(x, kLevel));
  return at::_make_dual(conv(primal), tangent_out, kLevel);
}

torch::Tensor linear_forward(torch::nn::Linear& linear, const torch::Tensor& x) {
  const auto& tangent = x._fw_grad(kLevel);
  if (!tangent.defined()) return linear(x);
  auto primal = std::get<0>(at::_unpack_dual(x, kLevel));
  return at::_make_dual(linear(primal), at::linear(tangent, linear->weight), kLevel);
}

}  // namespace flowlab
