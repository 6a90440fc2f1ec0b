// The path of a few samples through a sampling run: their state after every step, and a strip
// image of it (one row per sample, one column per time from t = 1, noise, to t = 0).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "flowlab/sampling/samplers.h"

namespace flowlab {

class TrajectoryRecorder {
 public:
  explicit TrajectoryRecorder(int64_t rows = 8) : rows_(rows) {}

  // Records the first rows of `noise`; the hook records them after every step and returns the
  // state unchanged.
  StepHook start(const torch::Tensor& noise);
  // `points` + 1 recorded states, each (rows, C, H, W), evenly spaced over the run: the first
  // the noise, the last the samples.
  std::vector<torch::Tensor> frames(int points) const;
  // The same as one image batch (rows * (points + 1), C, H, W), row-major: one row per sample,
  // one column per time.
  torch::Tensor strip(int points) const;

 private:
  int64_t rows_;
  std::vector<torch::Tensor> states_;  // each (rows, C, H, W), CPU
};

}  // namespace flowlab
