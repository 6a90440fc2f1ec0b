#include "flowlab/models/attention.h"

#include <cmath>

namespace flowlab {

torch::Tensor dot_product_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  double d = static_cast<double>(q.size(-1));
  return torch::matmul(torch::softmax(torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(d), -1), v);
}

}  // namespace flowlab
