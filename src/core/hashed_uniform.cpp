#include "flowlab/hashed_uniform.h"

namespace flowlab {

torch::Tensor hashed_uniform(int64_t n, int64_t k) {
  constexpr int64_t kMask = 0xFFFFFFFF, kMul = 0x45D9F3B;
  auto h = (torch::arange(n, torch::kInt64) * kMul + k * 7919 + 1).bitwise_and(kMask);
  h = (h.div(65536, "floor").bitwise_xor(h) * kMul).bitwise_and(kMask);
  h = (h.div(65536, "floor").bitwise_xor(h) * kMul).bitwise_and(kMask);
  h = h.div(65536, "floor").bitwise_xor(h);
  return h.to(torch::kFloat64) / 4294967296.0 * 2 - 1;
}

}  // namespace flowlab
