#include "flowlab/sampling/guidance.h"

namespace flowlab {

namespace {

// out: (2N, ...) conditional then null halves -> null + scale * (conditional - null).
torch::Tensor guided_mix(const torch::Tensor& out, double scale) {
  auto chunks = out.chunk(2, 0);
  return chunks[1] + scale * (chunks[0] - chunks[1]);
}

}  // namespace

VelocityFn classifier_free_guidance(ConditionalFn f, torch::Tensor y, int64_t null_label, double scale) {
  if (scale == 1.0 || null_label == 0) {
    return [f, y](const torch::Tensor& x, const torch::Tensor& t) { return f(x, t, y); };
  }
  auto y2 = torch::cat({y, torch::full_like(y, null_label)});
  return [f, y2, scale](const torch::Tensor& x, const torch::Tensor& t) {
    return guided_mix(f(torch::cat({x, x}), torch::cat({t, t}), y2), scale);
  };
}

AverageVelocityFn interval_guidance(IntervalConditionalFn f, torch::Tensor y, int64_t null_label, double scale) {
  if (scale == 1.0 || null_label == 0) {
    return [f, y](const torch::Tensor& x, const torch::Tensor& r, const torch::Tensor& t) {
      return f(x, r, t, y);
    };
  }
  auto y2 = torch::cat({y, torch::full_like(y, null_label)});
  return [f, y2, scale](const torch::Tensor& x, const torch::Tensor& r, const torch::Tensor& t) {
    return guided_mix(f(torch::cat({x, x}), torch::cat({r, r}), torch::cat({t, t}), y2), scale);
  };
}

}  // namespace flowlab
