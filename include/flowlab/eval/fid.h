// Fréchet Inception Distance and Kernel Inception Distance on feature sets, computed as
// pytorch-fid (FID) and torch-fidelity (KID) compute them.
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace flowlab {

// Mean and covariance of a feature set, float64; sigma divides by N - 1.
struct FeatureStatistics {
  torch::Tensor mu;     // (D,)
  torch::Tensor sigma;  // (D, D)
  int64_t count = 0;
};

// Streams batches of (N, D) features into float64 sums, shifted by the first batch's mean so the
// covariance does not cancel catastrophically.
class StatisticsAccumulator {
 public:
  void add(const torch::Tensor& features);
  FeatureStatistics finish() const;  // needs >= 2 features

 private:
  torch::Tensor shift_, sum_, outer_;
  int64_t count_ = 0;
};

FeatureStatistics feature_statistics(const torch::Tensor& features);

// ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2)), with the trace term as
// sum(sqrt(eig(sqrt(S1) S2 sqrt(S1)))) through symmetric eigendecompositions (negative
// eigenvalues from round-off clipped to 0), which stays finite for singular covariances.
double frechet_distance(const FeatureStatistics& a, const FeatureStatistics& b);

struct KidResult {
  double mean = 0, std = 0;  // over the subsets; std with divisor n, as torch-fidelity
  int64_t subsets = 0, subset_size = 0;
};

// Unbiased MMD^2 with the kernel (x.y / d + 1)^3, averaged over `subsets` random subsets of
// min(subset_size, N1, N2) features from each set, drawn without replacement from `seed`.
KidResult kernel_inception_distance(const torch::Tensor& real, const torch::Tensor& fake,
                                    int64_t subsets = 100, int64_t subset_size = 1000,
                                    uint64_t seed = 0);

}  // namespace flowlab
