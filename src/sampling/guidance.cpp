#include "flowlab/sampling/guidance.h"

#include <algorithm>

namespace flowlab {

namespace {

// out: (2N, C', ...) conditional then null halves -> null + scale * (conditional - null) on the
// first `channels` channels (0: the input's C), the conditional half on the rest (a variance output).
torch::Tensor guided_mix(const torch::Tensor& out, double scale, int64_t channels, int64_t input_channels) {
  auto chunks = out.chunk(2, 0);
  auto mixed = chunks[1] + scale * (chunks[0] - chunks[1]);
  const int64_t k = std::min(channels > 0 ? channels : input_channels, out.size(1));
  if (k == out.size(1)) return mixed;
  return torch::cat({mixed.slice(1, 0, k), chunks[0].slice(1, k)}, 1);
}

// (N,) bool: the rows whose time is inside the interval.
torch::Tensor inside(const torch::Tensor& t, const GuidanceInterval& interval) {
  return (t >= interval.t_min) & (t <= interval.t_max);
}

// The guided call on the rows inside the interval and the conditional call alone on the others:
// `guided` (2N batch) when any row is inside, `conditional` (N batch) when none is.
torch::Tensor guided_inside(const torch::Tensor& t, const GuidanceInterval& interval,
                            const std::function<torch::Tensor()>& guided,
                            const std::function<torch::Tensor()>& conditional) {
  if (interval.everywhere()) return guided();
  auto mask = inside(t, interval);
  if (!mask.any().item<bool>()) return conditional();
  auto g = guided();
  if (mask.all().item<bool>()) return g;
  std::vector<int64_t> rows(g.dim(), 1);
  rows[0] = -1;
  return torch::where(mask.view(rows), g, conditional());
}

}  // namespace

VelocityFn classifier_free_guidance(ConditionalFn f, torch::Tensor y, int64_t null_label, double scale,
                                    GuidanceInterval interval, int64_t channels) {
  if (scale == 1.0 || null_label == 0) {
    return [f, y](const torch::Tensor& x, const torch::Tensor& t) { return f(x, t, y); };
  }
  auto y2 = torch::cat({y, torch::full_like(y, null_label)});
  return [f, y, y2, scale, interval, channels](const torch::Tensor& x, const torch::Tensor& t) {
    return guided_inside(
        t, interval,
        [&] { return guided_mix(f(torch::cat({x, x}), torch::cat({t, t}), y2), scale, channels, x.size(1)); },
        [&] { return f(x, t, y); });
  };
}

AverageVelocityFn interval_guidance(IntervalConditionalFn f, torch::Tensor y, int64_t null_label, double scale,
                                    GuidanceInterval interval, int64_t channels) {
  if (scale == 1.0 || null_label == 0) {
    return [f, y](const torch::Tensor& x, const torch::Tensor& r, const torch::Tensor& t) {
      return f(x, r, t, y);
    };
  }
  auto y2 = torch::cat({y, torch::full_like(y, null_label)});
  return [f, y, y2, scale, interval, channels](const torch::Tensor& x, const torch::Tensor& r,
                                                const torch::Tensor& t) {
    return guided_inside(
        t, interval,
        [&] {
          return guided_mix(f(torch::cat({x, x}), torch::cat({r, r}), torch::cat({t, t}), y2), scale, channels,
                            x.size(1));
        },
        [&] { return f(x, r, t, y); });
  };
}

}  // namespace flowlab
