#include "flowlab/models/attention.h"

#include <torch/version.h>

#include <cmath>

namespace flowlab {

torch::Tensor dot_product_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
  constexpr uint64_t kLevel = 0;  // LibTorch's one forward-AD level
  if (!q._fw_grad(kLevel).defined() && !k._fw_grad(kLevel).defined() && !v._fw_grad(kLevel).defined())
    return at::scaled_dot_product_attention(q, k, v);
#endif
  double d = static_cast<double>(q.size(-1));
  return torch::matmul(torch::softmax(torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(d), -1), v);
}

}  // namespace flowlab
