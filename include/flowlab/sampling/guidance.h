// Classifier-free guidance (Ho & Salimans 2022) as a wrapper around a conditional network call.
#pragma once
#include <torch/torch.h>

#include <functional>

#include "flowlab/sampling/samplers.h"

namespace flowlab {

// x: (N, C, H, W), t: (N,), y: (N,) int64 -> (N, C, H, W)
using ConditionalFn =
    std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y)>;

// Where guidance applies: rows whose time t lies in [t_min, t_max].
struct GuidanceInterval {
  double t_min = 0.0, t_max = 1.0;
  bool everywhere() const { return t_min <= 0.0 && t_max >= 1.0; }
};

// out = f(x, t, null) + scale * (f(x, t, y) - f(x, t, null)), with the conditional and null halves
// evaluated as one batch of 2N; rows with t outside `interval` get f(x, t, y) alone (and a step
// whose rows are all outside costs one batch of N). scale = 1 (or no classes) is the plain
// conditional call. Only the first `channels` output channels are guided (0: as many as x has),
// the rest are the conditional output's (DiT's released sampler guides 3 of 4; a variance output).
VelocityFn classifier_free_guidance(ConditionalFn f, torch::Tensor y, int64_t null_label, double scale,
                                    GuidanceInterval interval = {}, int64_t channels = 0);

// x, r, t: (N,), y -> (N, C, H, W): a two-time network.
using IntervalConditionalFn = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& r,
                                                          const torch::Tensor& t, const torch::Tensor& y)>;
// The same guidance for a two-time network (MeanFlow's sampling-time CFG), the interval on t.
AverageVelocityFn interval_guidance(IntervalConditionalFn f, torch::Tensor y, int64_t null_label, double scale,
                                    GuidanceInterval interval = {}, int64_t channels = 0);

}  // namespace flowlab
