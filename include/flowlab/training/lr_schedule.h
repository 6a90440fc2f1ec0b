// Learning rate at a step: optional linear warm-up, then cosine from lr to min_lr, or constant.
#pragma once
#include <cstdint>

namespace flowlab {

struct SchedulerConfig;

// step: 0-based index of the optimizer step about to run; total: steps in the whole run.
double learning_rate_at(int64_t step, int64_t total, double lr, const SchedulerConfig& scheduler);

}  // namespace flowlab
