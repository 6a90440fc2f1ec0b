#include "flowlab/tasks/inpainting.h"

#include "flowlab/error.h"
#include "flowlab/io/image.h"
#include "flowlab/io/progress.h"
#include "flowlab/tasks/image_metrics.h"
#include "flowlab/tasks/masks.h"

namespace flowlab {

const std::vector<std::string>& replacement_modes() {
  static const std::vector<std::string> modes = {"noised", "fresh", "clean"};
  return modes;
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

InpaintingRun run_inpainting(Method& method, Backbone& model, const torch::Tensor& images,
                             const torch::Tensor& labels, const std::string& mask_type,
                             const std::string& replacement, const SamplingConfig& sampling,
                             uint64_t seed, torch::Device device) {
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
    auto known = run.original.slice(0, start, end);
    auto noise = torch::randn(known.sizes(), gen, torch::TensorOptions());
    parts.push_back(inpaint(method, model, known.to(device), run.masks.slice(0, start, end).to(device),
                            labels.slice(0, start, end).to(device), noise.to(device), sampling,
                            replacement).cpu());
    progress.update(end);
  }
  // The images as they are saved, clamped to [-1, 1] and quantised to 8 bits: the scores below
  // describe what a user sees (methods can overshoot the range).
  run.inpainted = uint8_to_float(float_to_uint8(torch::cat(parts)));
  auto a = (run.inpainted + 1) / 2, b = (run.original + 1) / 2, hole = 1 - run.masks;
  run.nmse = nmse(a, b);
  run.psnr = psnr(a, b);
  run.ssim = ssim(a, b);
  run.hole_nmse = nmse(a, b, hole);
  run.hole_psnr = psnr(a, b, hole);
  run.hole_ssim = ssim(a, b, hole);
  return run;
}

}  // namespace flowlab
