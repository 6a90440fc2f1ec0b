// Inpainting with any trained method: guided sampling that keeps the known pixels, and the
// fine-tuning objective that teaches a model to fill masks.
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "flowlab/config.h"
#include "flowlab/methods/method.h"
#include "flowlab/training/latent_codec.h"

namespace flowlab {

// How known pixels re-enter the state after each sampler step to time t:
//   "noised": mask * noised(x_known, eps, t) + (1 - mask) * x, with the sample's own fixed eps
//             (the state stays on the forward process everywhere);
//   "fresh":  the same with a new eps drawn at every step, as RePaint (Lugmayr et al. 2022) does;
//   "clean":  mask * x_known + (1 - mask) * x at every step (the paste-clean-pixels variant).
// All end with the known pixels exactly equal to x_known.
const std::vector<std::string>& replacement_modes();
// --replacement: one mode, "both" (noised and clean), "all", or "auto" (the method's default,
// MethodEntry::inpaint_replacement); throws Error for anything else.
std::vector<std::string> expand_replacements(const std::string& choice, const std::string& method_name);

// known: (N, C, H, W) in [-1, 1]; mask: (N, 1, H, W), 1 = known; labels: (N,); noise: (N, C, H, W)
// standard normal, the sampler's start and the "noised" replacement's eps ("fresh" draws its own from
// LibTorch's default generator). Returns (N, C, H, W).
torch::Tensor inpaint(Method& method, Backbone& model, const torch::Tensor& known,
                      const torch::Tensor& mask, const torch::Tensor& labels,
                      const torch::Tensor& noise, const SamplingConfig& sampling,
                      const std::string& replacement = "noised");

// One batch, a latent model's in its latent space (as run_inpainting below describes): known
// (N, C, H, W) in [-1, 1] and mask (N, 1, H, W), 1 = known, on the model's device; the sampler's
// noise from `gen`. Returns (N, C, H, W) with the known pixels pasted back, not clamped.
torch::Tensor inpaint_batch(Method& method, Backbone& model, const torch::Tensor& known, const torch::Tensor& mask,
                            const torch::Tensor& labels, at::Generator& gen, const SamplingConfig& sampling,
                            const std::string& replacement, const LatentCodec& codec = LatentCodec());

// One inpainting pass over a set of images, with per-image scores on images in [0, 1].
struct InpaintingRun {
  // (N, C, H, W) in [-1, 1], (N, 1, H, W), CPU; inpainted as saved (clamped, 8-bit levels)
  torch::Tensor original, masks, inpainted;
  torch::Tensor labels;                      // (N,)
  // (N,) float64 on images in [0, 1], over the whole image and over the filled region (mask == 0):
  // the mean squared error, the reference's mean square (its energy) and SSIM.
  torch::Tensor mse, energy, ssim, hole_mse, hole_energy, hole_ssim;
};

// The PSNR reported for a set whose every image is reconstructed exactly (infinite otherwise).
constexpr double kPsnrCeiling = 100.0;

// Inpaints `images` (uint8 (N, C, H, W)) with masks of `mask_type` (seeded by `seed` and the
// image index), in batches of sampling.batch_size, and scores the results. labels: the class
// each image is guided towards (the null label for unconditional models).
// A latent model (`codec` active) inpaints in its latent space, as Stable Diffusion's inpainting
// does: the known pixels are encoded (posterior means), a latent cell is known only where all of
// its pixels are (so no hole pixel is ever kept from the encoding), the known latents re-enter
// each step as in pixel space, and the decoded result gets the known pixels pasted back.
// A run's scores ({n, nmse, psnr, ssim, hole_nmse, hole_psnr, hole_ssim, exact_holes}) over all
// images, and under "per_class" over each class's (classes: (N,) dataset labels; empty names:
// none). They stay finite when holes are filled exactly or are black, as MNIST's often are:
//   psnr = 10 log10(1 / mean_i MSE_i), the PSNR of the set's mean squared error rather than the
//          mean of per-image PSNRs (infinite once one image is exact); kPsnrCeiling when all are;
//   nmse = mean_i MSE_i / mean_i E_i, with E_i the reference's mean square over the region (null
//          only when every reference region is black);
//   ssim = mean_i SSIM_i; exact_holes counts the images whose hole has no error.
nlohmann::json inpainting_scores(const InpaintingRun& run, const torch::Tensor& classes,
                                 const std::vector<std::string>& class_names);

InpaintingRun run_inpainting(Method& method, Backbone& model, const torch::Tensor& images,
                             const torch::Tensor& labels, const std::string& mask_type,
                             const std::string& replacement, const SamplingConfig& sampling,
                             uint64_t seed, torch::Device device, const LatentCodec& codec = LatentCodec());

}  // namespace flowlab
