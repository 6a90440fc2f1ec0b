#include "flowlab/methods/time_sampling.h"

#include "flowlab/error.h"

namespace flowlab {

torch::Tensor sample_times(const std::string& distribution, int64_t n, double logit_mean,
                           double logit_std, const torch::TensorOptions& options) {
  auto opts = options.dtype(torch::kFloat32);
  if (distribution == "uniform") return torch::rand({n}, opts);
  if (distribution == "logit_normal")
    return torch::sigmoid(torch::randn({n}, opts) * logit_std + logit_mean);
  throw Error("method.time_sampling '" + distribution + "' is not uniform or logit_normal");
}

}  // namespace flowlab
