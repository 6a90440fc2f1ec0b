#include "flowlab/bench/peak.h"

#include <chrono>
#include <fstream>
#include <string>

namespace flowlab {
namespace {

double best_tflops(torch::Device device, torch::ScalarType dtype, double seconds) {
  const int64_t n = device.is_cuda() ? 8192 : 2048;
  auto options = torch::TensorOptions().device(device).dtype(dtype);
  auto a = torch::randn({n, n}, options), b = torch::randn({n, n}, options);
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  torch::mm(a, b);  // warm-up
  sync();
  double best = 0, spent = 0;
  for (int repeat = 0; repeat < 3 || spent < seconds; ++repeat) {
    auto start = std::chrono::steady_clock::now();
    torch::mm(a, b);
    sync();
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    spent += elapsed;
    best = std::max(best, 2.0 * n * n * n / elapsed / 1e12);
    if (repeat >= 50) break;
  }
  return best;
}

}  // namespace

bool cpu_has_native_bf16() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("flags", 0) == 0)
      return line.find(" avx512_bf16") != std::string::npos || line.find(" amx_bf16") != std::string::npos;
  return false;
}

Peak attainable_peak(torch::Device device, double seconds) {
  torch::NoGradGuard no_grad;
  Peak peak;
  peak.fp32_tflops = best_tflops(device, torch::kFloat32, seconds);
  if (device.is_cuda() || cpu_has_native_bf16()) peak.bf16_tflops = best_tflops(device, torch::kBFloat16, seconds);
  return peak;
}

}  // namespace flowlab
