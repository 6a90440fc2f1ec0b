// Where this process runs: its device and its CPU threads, given its place in a multi-process job.
#pragma once
#include <torch/torch.h>

#include <string>

#include "flowlab/config.h"
#include "flowlab/dist/world.h"

namespace flowlab {

// Selects a device from "cpu" / "cuda", with a clear error when CUDA is not there.
torch::Device resolve_device(const std::string& name);
// Sets LibTorch's (and OpenBLAS's) threads: `threads`; when 0, OMP_NUM_THREADS if set, else the
// machine's cores divided among its processes of a multi-process job.
void configure_threads(int threads);

// A command's process for its whole run: joins the job when a launcher started several processes
// (torchrun, srun, RANK + WORLD_SIZE), sets the CPU threads (training.threads) and picks the device
// (training.device; the local rank's GPU under a launcher). Throws before any work when the device
// is not there.
class ProcessRuntime {
 public:
  explicit ProcessRuntime(const Config& config);
  torch::Device device() const { return device_; }

 private:
  dist::Session session_;
  torch::Device device_;
};

}  // namespace flowlab
