#include "flowlab/cuda_graph.h"

#include <ATen/autocast_mode.h>

#include "flowlab/error.h"

#ifdef FLOWLAB_HAVE_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace flowlab {

#ifdef FLOWLAB_HAVE_CUDA

bool cuda_graphs_built() { return true; }

struct CapturedWork::Graph {
  at::cuda::CUDAGraph graph;
};

CapturedWork::CapturedWork(const std::function<void()>& body, torch::Device device, const std::string& what)
    : graph_(std::make_unique<Graph>()) {
  if (const auto why = cuda_graphs_unavailable(device); !why.empty()) throw Error(why);
  c10::cuda::CUDAGuard device_guard(device);
  const auto index = device_guard.current_device().index();
  torch::cuda::synchronize(index);
  // A cast cached by autocast would outlive the capture's memory pool (PyTorch turns it off too).
  struct AutocastCacheOff {
    bool was_on = at::autocast::is_autocast_cache_enabled();
    AutocastCacheOff() { at::autocast::set_autocast_cache_enabled(false); }
    ~AutocastCacheOff() { at::autocast::set_autocast_cache_enabled(was_on); }
  } cache_off;
  try {
    // Capture runs on a stream of its own, after all work queued so far.
    c10::cuda::CUDAStreamGuard stream_guard(c10::cuda::getStreamFromPool(false, index));
    graph_->graph.capture_begin();
    try {
      body();
    } catch (...) {
      try {
        graph_->graph.capture_end();  // leaves capture mode; the half-recorded graph is dropped
      } catch (...) {
      }
      throw;
    }
    graph_->graph.capture_end();
  } catch (const std::exception& e) {
    throw Error("compute.cuda_graphs: " + what + " could not be captured (" + one_line_message(e) +
                "); run it without compute.cuda_graphs");
  }
  torch::cuda::synchronize(index);
}

void CapturedWork::replay() { graph_->graph.replay(); }

#else

bool cuda_graphs_built() { return false; }

struct CapturedWork::Graph {};

CapturedWork::CapturedWork(const std::function<void()>&, torch::Device device, const std::string&) {
  throw Error(cuda_graphs_unavailable(device));
}

void CapturedWork::replay() {}

#endif

CapturedWork::~CapturedWork() = default;

std::string cuda_graphs_unavailable(torch::Device device) {
  if (!cuda_graphs_built())
    return "compute.cuda_graphs needs a CUDA build of LibTorch; this build is CPU-only (turn the option off)";
  if (!device.is_cuda())
    return "compute.cuda_graphs captures GPU work; this run's device is " + device.str() +
           " (use a CUDA device, or turn the option off)";
  return "";
}

}  // namespace flowlab
