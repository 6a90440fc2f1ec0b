// compute.cuda_graphs: a fixed sequence of GPU work recorded once as a CUDA graph and replayed,
// so that a small model's step costs one launch instead of hundreds.
//
// What a captured body may do: device work on tensors whose addresses stay fixed (inputs are
// copied into static buffers before each replay), draws from the CUDA default generator (each
// replay continues its stream), and host arithmetic that is the same on every replay. What it
// may not: read a device value on the host (`.item()`, a data-dependent branch), allocate a
// different shape each time, or reseed a generator.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>

namespace flowlab {

// Whether this LibTorch build can capture CUDA graphs (a CUDA build); a CPU build cannot.
bool cuda_graphs_built();

// The one-line refusal when compute.cuda_graphs cannot be honoured on `device`; empty when it can.
std::string cuda_graphs_unavailable(torch::Device device);

class CapturedWork {
 public:
  // Records body() on a side stream of `device` (autocast's weight cache off while recording).
  // Nothing runs now: replay() runs it. Throws Error, naming `what`, when the body does something
  // that cannot be captured, or on a CPU build.
  CapturedWork(const std::function<void()>& body, torch::Device device, const std::string& what);
  ~CapturedWork();
  CapturedWork(const CapturedWork&) = delete;
  CapturedWork& operator=(const CapturedWork&) = delete;

  void replay();

 private:
  struct Graph;
  std::unique_ptr<Graph> graph_;
};

}  // namespace flowlab
