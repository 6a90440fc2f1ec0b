#include "flowlab/data/transforms.h"

#include "flowlab/error.h"

namespace flowlab {
namespace {

namespace F = torch::nn::functional;

torch::Tensor resize_float(const torch::Tensor& x, int64_t h, int64_t w) {
  bool shrinking = h < x.size(2) || w < x.size(3);
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{h, w})
                               .mode(torch::kBilinear)
                               .align_corners(false)
                               .antialias(shrinking));
}

torch::Tensor to_u8(const torch::Tensor& x) { return x.round().clamp(0, 255).to(torch::kUInt8); }

}  // namespace

torch::Tensor fit_images(const torch::Tensor& images, int64_t size, const std::string& mode) {
  TORCH_CHECK(images.dim() == 4, "fit_images expects (N, C, H, W), got ", images.sizes());
  int64_t h = images.size(2), w = images.size(3);
  if (h == size && w == size) return images;
  if (mode == "pad") {
    // Zero-pad (negative pads crop) symmetrically to size x size.
    int64_t top = (size - h) / 2, left = (size - w) / 2;
    return F::pad(images, F::PadFuncOptions({left, size - w - left, top, size - h - top}));
  }
  auto x = images.to(torch::kFloat32);
  if (mode == "resize") return to_u8(resize_float(x, size, size));
  if (mode == "crop") {
    double scale = static_cast<double>(size) / static_cast<double>(std::min(h, w));
    int64_t nh = std::max<int64_t>(size, std::llround(h * scale));
    int64_t nw = std::max<int64_t>(size, std::llround(w * scale));
    auto r = resize_float(x, nh, nw);
    int64_t top = (nh - size) / 2, left = (nw - size) / 2;
    return to_u8(r.slice(2, top, top + size).slice(3, left, left + size)).contiguous();
  }
  throw Error("data.fit '" + mode + "' is not one of: pad resize crop");
}

torch::Tensor random_horizontal_flip(const torch::Tensor& x, StepRandom& rng) {
  auto flip = rng.rand(x.size(0), x.options().dtype(torch::kFloat32)) < 0.5;
  return torch::where(flip.view({-1, 1, 1, 1}), x.flip({3}), x);
}

}  // namespace flowlab
