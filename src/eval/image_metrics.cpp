#include "flowlab/eval/image_metrics.h"

#include <cmath>

namespace flowlab {
namespace {

// Sum over (C, H, W) of x weighted by the region (broadcast over channels).
torch::Tensor region_sum(const torch::Tensor& x, const torch::Tensor& region) {
  auto w = region.defined() ? x * region.to(x.dtype()) : x;
  return w.sum({1, 2, 3});
}

torch::Tensor region_count(const torch::Tensor& x, const torch::Tensor& region) {
  if (!region.defined()) return torch::full({x.size(0)}, double(x[0].numel()), x.options());
  return region.to(x.dtype()).sum({1, 2, 3}) * static_cast<double>(x.size(1));
}

// Separable Gaussian filter over H and W of (N*C, 1, H, W) with half-sample symmetric padding.
torch::Tensor gaussian_filter(const torch::Tensor& x) {
  constexpr int64_t radius = 5;
  constexpr double sigma = 1.5;
  auto offsets = torch::arange(-radius, radius + 1, torch::kFloat64);
  auto kernel = torch::exp(-0.5 * offsets * offsets / (sigma * sigma));
  kernel = kernel / kernel.sum();
  auto pad_index = [](int64_t n) {  // scipy "reflect": d c b a | a b c d | d c b a
    std::vector<int64_t> idx;
    for (int64_t i = -radius; i < n + radius; ++i) {
      int64_t j = i;
      while (j < 0 || j >= n) j = j < 0 ? -j - 1 : 2 * n - j - 1;
      idx.push_back(j);
    }
    return torch::tensor(idx, torch::kInt64);
  };
  auto h = x.index_select(2, pad_index(x.size(2)));
  h = torch::conv2d(h, kernel.view({1, 1, -1, 1}).to(x.dtype()));
  h = h.index_select(3, pad_index(x.size(3)));
  return torch::conv2d(h, kernel.view({1, 1, 1, -1}).to(x.dtype()));
}

}  // namespace

torch::Tensor mse(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& region) {
  auto d = (a.to(torch::kFloat64) - b.to(torch::kFloat64)).pow(2);
  return region_sum(d, region) / region_count(d, region);
}

torch::Tensor nmse(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& region) {
  auto b64 = b.to(torch::kFloat64);
  auto d = (a.to(torch::kFloat64) - b64).pow(2);
  return region_sum(d, region) / region_sum(b64.pow(2), region);
}

torch::Tensor psnr(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& region) {
  return -10.0 * torch::log10(mse(a, b, region));
}

torch::Tensor ssim_map(const torch::Tensor& a, const torch::Tensor& b) {
  const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
  int64_t n = a.size(0), c = a.size(1), h = a.size(2), w = a.size(3);
  auto x = a.to(torch::kFloat64).reshape({n * c, 1, h, w});
  auto y = b.to(torch::kFloat64).reshape({n * c, 1, h, w});
  auto ux = gaussian_filter(x), uy = gaussian_filter(y);
  auto vx = gaussian_filter(x * x) - ux * ux, vy = gaussian_filter(y * y) - uy * uy;
  auto vxy = gaussian_filter(x * y) - ux * uy;
  auto s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
  return s.reshape({n, c, h, w});
}

torch::Tensor ssim(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& region) {
  auto map = ssim_map(a, b);
  if (region.defined()) return region_sum(map, region) / region_count(map, region);
  constexpr int64_t crop = 5;
  return map.slice(2, crop, map.size(2) - crop).slice(3, crop, map.size(3) - crop).mean({1, 2, 3});
}

}  // namespace flowlab
