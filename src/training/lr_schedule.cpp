#include "flowlab/training/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "flowlab/config.h"

namespace flowlab {

double learning_rate_at(int64_t step, int64_t total, double lr, const SchedulerConfig& s) {
  if (s.warmup_steps > 0 && step < s.warmup_steps)
    return lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps);
  if (s.type == "constant") return lr;
  double span = static_cast<double>(std::max<int64_t>(1, total - s.warmup_steps));
  double progress = std::clamp(static_cast<double>(step - s.warmup_steps) / span, 0.0, 1.0);
  return s.min_lr + 0.5 * (lr - s.min_lr) * (1.0 + std::cos(M_PI * progress));
}

}  // namespace flowlab
