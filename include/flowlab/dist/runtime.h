// Where this process runs: its device and its CPU threads, given its place in a multi-process job.
#pragma once
#include <torch/torch.h>

#include <string>

namespace flowlab {

// Selects a device from "cpu" / "cuda", with a clear error when CUDA is not there.
torch::Device resolve_device(const std::string& name);
// Sets LibTorch's (and OpenBLAS's) threads: `threads`; when 0, OMP_NUM_THREADS if set, else the
// machine's cores divided among its processes of a multi-process job.
void configure_threads(int threads);

}  // namespace flowlab
