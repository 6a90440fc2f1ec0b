// Time grids of the fixed-step samplers (sampling.schedule): steps + 1 times from t = 1 (noise)
// down to t = 0 (data).
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace flowlab {

// Karras et al. 2022's noise levels (EDM, Eq. 5): `count` sigmas from sigma_max down to
// sigma_min, evenly spaced in sigma^(1 / rho). One level is sigma_max.
std::vector<double> karras_sigmas(int count, double sigma_min = 0.002, double sigma_max = 80.0, double rho = 7.0);

// uniform: evenly spaced.
// edm: t = 1, then karras_sigmas(steps - 1) mapped to flow time by sigma = t / (1 - t), i.e.
//   t = sigma / (1 + sigma) (0.988 down to 0.002), then t = 0: short steps near the data, where
//   the path bends, and a first step from pure noise to sigma_max.
// shift: the uniform grid through SD3's time shift t' = s t / (1 + (s - 1) t) (Esser et al.
//   2024, Sec. 5.3.2), s = `shift`; s > 1 spends more steps near the noise.
// last_step_size > 0: the schedule's grid of steps - 1 steps mapped onto [last_step_size, 1]
//   (t' = last_step_size + (1 - last_step_size) t), then t = 0; uniform with 0.04 is SiT's and
//   REPA's SDE grid, linspace(1, 0.04, steps) then 0 in flowlab's time. Needs steps >= 2.
std::vector<double> time_grid(const std::string& schedule, int steps, double shift = 3.0, double last_step_size = 0.0);

// The grids by name (sampling.schedule), each with one line of help; adding one is its entry in
// time_grids() (src/sampling/time_grids.cpp).
struct TimeGrid {
  std::string name;
  std::string help;
  std::function<std::vector<double>(int steps, double shift)> make;  // steps + 1 times, 1 down to 0
};
const std::vector<TimeGrid>& time_grids();

}  // namespace flowlab
