#include "flowlab/sampling/time_grids.h"

#include <cmath>

#include "flowlab/error.h"
#include "flowlab/named_entries.h"
#include "flowlab/sampling/samplers.h"

namespace flowlab {

std::vector<double> karras_sigmas(int count, double sigma_min, double sigma_max, double rho) {
  std::vector<double> sigmas;
  const double first = std::pow(sigma_max, 1.0 / rho), last = std::pow(sigma_min, 1.0 / rho);
  for (int i = 0; i < count; ++i) {
    double fraction = count == 1 ? 0.0 : static_cast<double>(i) / (count - 1);
    sigmas.push_back(std::pow(first + fraction * (last - first), rho));
  }
  return sigmas;
}

const std::vector<TimeGrid>& time_grids() {
  static const std::vector<TimeGrid> grids = {
      {"uniform", "evenly spaced times", [](int steps, double) { return uniform_time_grid(steps); }},
      {"edm", "Karras et al.'s rho = 7 noise levels, 80 to 0.002, as t = sigma / (1 + sigma): short steps near the data",
       [](int steps, double) {
         std::vector<double> times{1.0};
         for (double sigma : karras_sigmas(steps - 1)) times.push_back(sigma / (1 + sigma));
         times.push_back(0.0);
         return times;
       }},
      {"shift", "SD3's t' = s t / (1 + (s - 1) t), s = sampling.shift (3): more steps near the noise",
       [](int steps, double shift) {
         auto times = uniform_time_grid(steps);
         for (auto& t : times) t = shift * t / (1 + (shift - 1) * t);
         return times;
       }},
  };
  return grids;
}

std::vector<double> time_grid(const std::string& schedule, int steps, double shift, double last_step_size) {
  const auto& grid = find_entry(time_grids(), schedule, "sampling.schedule");
  if (steps < 1) throw Error("sampling.steps must be at least 1, got " + std::to_string(steps));
  if (last_step_size > 0) {
    if (steps < 2) throw Error("a last step of its own (sampling.sde_last_step) needs sampling.steps >= 2, got " + std::to_string(steps));
    auto times = grid.make(steps - 1, shift);
    for (auto& t : times) t = last_step_size + (1 - last_step_size) * t;
    times.push_back(0.0);
    return times;
  }
  return grid.make(steps, shift);
}

}  // namespace flowlab
