// Reconstruction metrics on images in [0, 1] with data range 1, per image.
#pragma once
#include <torch/torch.h>

namespace flowlab {

// a: reconstruction, b: target, both (N, C, H, W) in [0, 1]. region: (N, 1, H, W) with 1 on the
// pixels that count, or undefined for the whole image. Results are float64 (N,).
torch::Tensor mse(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& region = {});
// ||a - b||^2 / ||b||^2 over the region.
torch::Tensor nmse(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& region = {});
// 10 log10(1 / MSE).
torch::Tensor psnr(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& region = {});

// SSIM map (Wang et al. 2004) per channel: 11x11 Gaussian window with sigma 1.5 (radius 5),
// K1 = 0.01, K2 = 0.03, population covariances, borders mirrored half-sample symmetrically
// (scipy.ndimage "reflect"). (N, C, H, W) float64.
torch::Tensor ssim_map(const torch::Tensor& a, const torch::Tensor& b);
// Whole image: the map's mean after cropping the 5-pixel border, over channels, as
// skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
// use_sample_covariance=False, data_range=1, channel_axis=...) computes it. With a region: the
// map's mean over the region's pixels, uncropped.
torch::Tensor ssim(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& region = {});

}  // namespace flowlab
