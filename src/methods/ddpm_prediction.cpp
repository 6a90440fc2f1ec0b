#include "flowlab/methods/ddpm_prediction.h"

#include "flowlab/error.h"

namespace flowlab {

DdpmPrediction::DdpmPrediction(std::string kind) : kind_(std::move(kind)) {
  if (kind_ != "epsilon" && kind_ != "v" && kind_ != "x0")
    throw Error("ddpm.prediction '" + kind_ + "' is not one of: epsilon v x0");
}

torch::Tensor DdpmPrediction::target(const torch::Tensor& x0, const torch::Tensor& eps,
                                     const torch::Tensor& ab) const {
  if (kind_ == "v") return ab.sqrt() * eps - (1 - ab).sqrt() * x0;
  return kind_ == "x0" ? x0 : eps;
}

Denoised DdpmPrediction::denoised(const torch::Tensor& x_t, const torch::Tensor& prediction,
                                  const torch::Tensor& ab) const {
  auto a = ab.sqrt(), s = (1 - ab).sqrt();
  if (kind_ == "v") return {a * x_t - s * prediction, s * x_t + a * prediction};
  if (kind_ == "x0") return {prediction, (x_t - a * prediction) / s};
  return {(x_t - s * prediction) / a, prediction};
}

}  // namespace flowlab
