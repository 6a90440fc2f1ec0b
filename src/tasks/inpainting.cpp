#include "flowlab/tasks/inpainting.h"

#include <algorithm>
#include <cmath>

#include "flowlab/error.h"
#include "flowlab/io/image.h"
#include "flowlab/io/progress.h"
#include "flowlab/methods/registry.h"
#include "flowlab/eval/image_metrics.h"
#include "flowlab/tasks/masks.h"

namespace flowlab {

const std::vector<std::string>& replacement_modes() {
  static const std::vector<std::string> modes = {"noised", "fresh", "clean"};
  return modes;
}


std::vector<std::string> expand_replacements(const std::string& choice, const std::string& method_name) {
  if (choice == "auto") return {method_entry(method_name).inpaint_replacement};
  if (choice == "both") return {"noised", "clean"};
  if (choice == "all") return replacement_modes();
  const auto& modes = replacement_modes();
  if (std::find(modes.begin(), modes.end(), choice) == modes.end())
    throw Error("--replacement " + choice + ": use noised, fresh, clean, both or all");
  return {choice};
}

namespace {

nlohmann::json means(const InpaintingRun& run, const torch::Tensor& rows) {
  auto m = [&](const torch::Tensor& v) { return v.index_select(0, rows).mean().item<double>(); };
  auto psnr_of = [](double mean_mse) { return std::min(kPsnrCeiling, -10.0 * std::log10(mean_mse)); };
  auto nmse_of = [](double mean_mse, double mean_energy) -> nlohmann::json {
    if (mean_energy > 0) return mean_mse / mean_energy;
    return mean_mse == 0 ? nlohmann::json(0.0) : nlohmann::json(nullptr);  // every reference region black
  };
  return {{"n", rows.size(0)},
          {"nmse", nmse_of(m(run.mse), m(run.energy))},
          {"psnr", psnr_of(m(run.mse))},
          {"ssim", m(run.ssim)},
          {"hole_nmse", nmse_of(m(run.hole_mse), m(run.hole_energy))},
          {"hole_psnr", psnr_of(m(run.hole_mse))},
          {"hole_ssim", m(run.hole_ssim)},
          {"exact_holes", (run.hole_mse.index_select(0, rows) == 0).sum().item<int64_t>()}};
}

}  // namespace

nlohmann::json inpainting_scores(const InpaintingRun& run, const torch::Tensor& classes,
                                 const std::vector<std::string>& class_names) {
  auto all = means(run, torch::arange(run.mse.size(0)));
  nlohmann::json per_class = nlohmann::json::array();
  for (int64_t k = 0; k < static_cast<int64_t>(class_names.size()); ++k) {
    auto rows = (classes == k).nonzero().squeeze(1);
    if (rows.size(0) == 0) continue;
    auto c = means(run, rows);
    c["class"] = k;
    c["name"] = class_names[k];
    per_class.push_back(c);
  }
  all["per_class"] = per_class;
  return all;
}

torch::Tensor inpaint(Method& method, Backbone& model, const torch::Tensor& known,
                      const torch::Tensor& mask, const torch::Tensor& labels,
                      const torch::Tensor& noise, const SamplingConfig& sampling,
                      const std::string& replacement) {
  if (replacement != "noised" && replacement != "fresh" && replacement != "clean")
    throw Error("unknown replacement '" + replacement + "' (known: noised fresh clean)");
  torch::NoGradGuard no_grad;
  StepHook hook = [&](const torch::Tensor& x, double t) {
    torch::Tensor fixed = known;
    if (replacement == "noised") fixed = method.noised(known, noise, t);
    if (replacement == "fresh") fixed = method.noised(known, torch::randn_like(known), t);
    return mask * fixed + (1 - mask) * x;
  };
  auto out = method.sample(model, noise, labels, sampling, hook).x;
  return mask * known + (1 - mask) * out;
}

torch::Tensor inpaint_batch(Method& method, Backbone& model, const torch::Tensor& known, const torch::Tensor& mask,
                            const torch::Tensor& labels, at::Generator& gen, const SamplingConfig& sampling,
                            const std::string& replacement, const LatentCodec& codec) {
  auto known_latents = codec.encode(known);
  // A cell is known where every pixel it covers is (a min-pool; the identity for pixel models).
  auto factor = known.size(2) / known_latents.size(2);
  auto known_cells = -torch::max_pool2d(-mask, {factor, factor});
  auto noise = torch::randn(known_latents.sizes(), gen, torch::TensorOptions()).to(known.device());
  auto out = codec.decode(inpaint(method, model, known_latents, known_cells, labels, noise, sampling, replacement));
  return mask * known + (1 - mask) * out;
}

InpaintingRun run_inpainting(Method& method, Backbone& model, const torch::Tensor& images,
                             const torch::Tensor& labels, const std::string& mask_type,
                             const std::string& replacement, const SamplingConfig& sampling,
                             uint64_t seed, torch::Device device, const LatentCodec& codec) {
  int64_t n = images.size(0), size = images.size(2);
  InpaintingRun run;
  run.original = uint8_to_float(images);
  run.masks = make_masks(mask_type, n, size, seed);
  run.labels = labels;
  auto gen = at::detail::createCPUGenerator(seed);
  torch::manual_seed(seed);  // noise drawn inside samplers (DDPM ancestral steps)
  std::vector<torch::Tensor> parts;
  Progress progress("inpaint " + mask_type + " (" + replacement + ")", n, "img");
  for (int64_t start = 0; start < n; start += sampling.batch_size) {
    int64_t end = std::min<int64_t>(n, start + sampling.batch_size);
    parts.push_back(inpaint_batch(method, model, run.original.slice(0, start, end).to(device),
                                  run.masks.slice(0, start, end).to(device), labels.slice(0, start, end).to(device), gen,
                                  sampling, replacement, codec)
                        .cpu());
    progress.update(end);
  }
  // The images as they are saved, clamped to [-1, 1] and quantised to 8 bits: the scores below
  // describe what a user sees (methods can overshoot the range).
  run.inpainted = uint8_to_float(float_to_uint8(torch::cat(parts)));
  auto a = (run.inpainted + 1) / 2, b = (run.original + 1) / 2, hole = 1 - run.masks;
  run.mse = mse(a, b);
  run.energy = mse(torch::zeros_like(b), b);
  run.ssim = ssim(a, b);
  run.hole_mse = mse(a, b, hole);
  run.hole_energy = mse(torch::zeros_like(b), b, hole);
  run.hole_ssim = ssim(a, b, hole);
  return run;
}

}  // namespace flowlab
