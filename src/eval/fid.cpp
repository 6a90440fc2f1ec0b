#include "flowlab/eval/fid.h"

#include "flowlab/error.h"

namespace flowlab {

void StatisticsAccumulator::add(const torch::Tensor& features) {
  auto f = features.to(torch::kFloat64).cpu();
  if (!shift_.defined()) {
    shift_ = f.mean(0);
    sum_ = torch::zeros_like(shift_);
    outer_ = torch::zeros({f.size(1), f.size(1)}, f.options());
  }
  auto centred = f - shift_;
  sum_ += centred.sum(0);
  outer_ += centred.t().mm(centred);
  count_ += f.size(0);
}

FeatureStatistics StatisticsAccumulator::finish() const {
  if (count_ < 2) throw Error("feature statistics need at least 2 images, got " + std::to_string(count_));
  auto mean_centred = sum_ / static_cast<double>(count_);
  FeatureStatistics s;
  s.mu = shift_ + mean_centred;
  s.sigma = (outer_ - static_cast<double>(count_) * torch::outer(mean_centred, mean_centred)) /
            static_cast<double>(count_ - 1);
  s.count = count_;
  return s;
}

FeatureStatistics feature_statistics(const torch::Tensor& features) {
  StatisticsAccumulator acc;
  acc.add(features);
  return acc.finish();
}

namespace {

// Symmetric square root through eigh; round-off negative eigenvalues clipped to 0.
torch::Tensor symmetric_sqrt(const torch::Tensor& m) {
  auto [values, vectors] = torch::linalg_eigh((m + m.t()) / 2, "L");
  return vectors.mm(torch::diag(values.clamp_min(0).sqrt())).mm(vectors.t());
}

}  // namespace

double frechet_distance(const FeatureStatistics& a, const FeatureStatistics& b) {
  if (a.mu.size(0) != b.mu.size(0))
    throw Error("FID: feature dimensions differ (" + std::to_string(a.mu.size(0)) + " vs " +
                std::to_string(b.mu.size(0)) + ")");
  auto s1 = a.sigma.to(torch::kFloat64), s2 = b.sigma.to(torch::kFloat64);
  auto diff = a.mu.to(torch::kFloat64) - b.mu.to(torch::kFloat64);
  auto root1 = symmetric_sqrt(s1);
  auto m = root1.mm(s2).mm(root1);
  auto eig = torch::linalg_eigvalsh((m + m.t()) / 2, "L");
  double trace_sqrt = eig.clamp_min(0).sqrt().sum().item<double>();
  return diff.dot(diff).item<double>() + s1.trace().item<double>() + s2.trace().item<double>() -
         2 * trace_sqrt;
}

KidResult kernel_inception_distance(const torch::Tensor& real, const torch::Tensor& fake,
                                    int64_t subsets, int64_t subset_size, uint64_t seed) {
  auto x_all = real.to(torch::kFloat64).cpu(), y_all = fake.to(torch::kFloat64).cpu();
  int64_t m = std::min({subset_size, x_all.size(0), y_all.size(0)});
  if (m < 2) throw Error("KID needs at least 2 features in each set");
  double d = static_cast<double>(x_all.size(1));
  auto gen = at::detail::createCPUGenerator(seed);
  auto kernel = [d](const torch::Tensor& a, const torch::Tensor& b) { return (a.mm(b.t()) / d + 1).pow(3); };
  std::vector<double> values;
  for (int64_t i = 0; i < subsets; ++i) {
    auto x = x_all.index_select(0, torch::randperm(x_all.size(0), gen, torch::kInt64).slice(0, 0, m));
    auto y = y_all.index_select(0, torch::randperm(y_all.size(0), gen, torch::kInt64).slice(0, 0, m));
    auto kxx = kernel(x, x), kyy = kernel(y, y), kxy = kernel(x, y);
    double n = static_cast<double>(m);
    double mmd = (kxx.sum() - kxx.diag().sum()).item<double>() / (n * (n - 1)) +
                 (kyy.sum() - kyy.diag().sum()).item<double>() / (n * (n - 1)) -
                 2 * kxy.mean().item<double>();
    values.push_back(mmd);
  }
  auto t = torch::tensor(values, torch::kFloat64);
  return {t.mean().item<double>(), t.std(/*unbiased=*/false).item<double>(), subsets, m};
}

}  // namespace flowlab
