#include "flowlab/dist/runtime.h"

#include <cstdlib>
#include <thread>

#include "flowlab/dist/world.h"
#include "flowlab/error.h"

#ifdef FLOWLAB_HAVE_OPENBLAS
extern "C" void openblas_set_num_threads(int num_threads);
#endif

namespace flowlab {

torch::Device resolve_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (!torch::cuda::is_available())
      throw Error("--device cuda: this build of LibTorch has no CUDA, or no GPU is visible");
    // One GPU per process of a multi-process job, by local rank.
    if (dist::world().size() > 1)
      return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(
                                             dist::world().local_rank() % torch::cuda::device_count()));
    return torch::kCUDA;
  }
  throw Error("device '" + name + "' is not cpu or cuda");
}

void configure_threads(int threads) {
  // Default: OMP_NUM_THREADS when a launcher set it, else the cores shared among this machine's
  // processes.
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int n = std::max(1, cores / std::max(1, dist::world().env().local_world_size));
  const char* omp = std::getenv("OMP_NUM_THREADS");
  if (omp != nullptr && std::atoi(omp) > 0) n = std::atoi(omp);
  if (threads > 0) n = threads;
  torch::set_num_threads(n);
#ifdef FLOWLAB_HAVE_OPENBLAS
  openblas_set_num_threads(n);  // its own pool, which LibTorch's setting does not reach
#endif
}

ProcessRuntime::ProcessRuntime(const Config& config)
    : session_(resolve_device(config.training.device).type(), config.distributed.timeout),
      device_(resolve_device(config.training.device)) {
  configure_threads(config.training.threads);
}

}  // namespace flowlab
