#include "flowlab/sampling/trajectory.h"

#include <cmath>

namespace flowlab {

StepHook TrajectoryRecorder::start(const torch::Tensor& noise) {
  states_ = {noise.slice(0, 0, rows_).cpu()};
  return [this](const torch::Tensor& x, double) {
    states_.push_back(x.slice(0, 0, rows_).cpu());
    return x;
  };
}

std::vector<torch::Tensor> TrajectoryRecorder::frames(int points) const {
  std::vector<torch::Tensor> chosen;
  for (int k = 0; k <= points; ++k) {
    auto idx = static_cast<size_t>(std::llround(static_cast<double>(k) *
                                                static_cast<double>(states_.size() - 1) / points));
    chosen.push_back(states_[idx]);
  }
  return chosen;
}

torch::Tensor TrajectoryRecorder::strip(int points) const {
  // (points + 1, rows, C, H, W) -> one row per sample, one column per time.
  auto stacked = torch::stack(frames(points)).transpose(0, 1);
  return stacked.reshape({-1, stacked.size(2), stacked.size(3), stacked.size(4)});
}

}  // namespace flowlab
