// The device's attainable peak: what a large matrix product reaches on the threads the benchmark
// uses, the yardstick for the benchmark's utilisation column.
#pragma once
#include <torch/torch.h>

#include <optional>

namespace flowlab {

struct Peak {
  double fp32_tflops = 0;
  std::optional<double> bf16_tflops;  // measured on CUDA and on CPUs with native bf16 instructions
};

// Times n x n products (n = 2048 on CPU, 8192 on CUDA) for about `seconds` per precision, after
// a warm-up, and returns the best of the timed repeats.
Peak attainable_peak(torch::Device device, double seconds = 2.0);

// Whether this CPU has native bf16 arithmetic (avx512_bf16 or amx_bf16 in /proc/cpuinfo).
bool cpu_has_native_bf16();

}  // namespace flowlab
