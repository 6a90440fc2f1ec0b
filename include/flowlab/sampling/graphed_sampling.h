// compute.cuda_graphs for sampling: Method::sample on one batch shape recorded as a CUDA graph on
// the shape's second call (the first runs eagerly and warms up), and replayed from then on.
// A sampler whose work depends on device values is not captured: RK45's adaptive steps and a
// guidance interval that covers part of the time range (guidance.h reads which rows are inside).
// Those, and everything on a CPU, run eagerly; not_capturable() says why.
#pragma once
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "flowlab/config.h"
#include "flowlab/cuda_graph.h"
#include "flowlab/methods/method.h"

namespace flowlab {

// Why this sampling runs eagerly under compute.cuda_graphs; empty when it is captured.
std::string not_capturable(const SamplingConfig& sampling, torch::Device device);

class GraphedSampling {
 public:
  GraphedSampling(Method& method, Backbone& model, SamplingConfig sampling, torch::Device device);

  // method.sample(model, noise, y, sampling): eagerly, or replayed. The result is a copy.
  SampleOutput operator()(const torch::Tensor& noise, const torch::Tensor& y);

 private:
  struct Recorded {
    int calls = 0;
    torch::Tensor noise, y;  // static inputs
    SampleOutput out;        // static output
    std::unique_ptr<CapturedWork> graph;
  };
  Method& method_;
  Backbone& model_;
  SamplingConfig sampling_;
  torch::Device device_;
  bool capture_;
  std::map<std::vector<int64_t>, Recorded> by_shape_;
};

}  // namespace flowlab
