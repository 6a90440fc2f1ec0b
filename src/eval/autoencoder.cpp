#include "flowlab/eval/autoencoder.h"

#include "flowlab/eval/fid.h"
#include "flowlab/eval/image_metrics.h"
#include "flowlab/io/image.h"
#include "flowlab/io/progress.h"

namespace flowlab {

AutoencoderScores evaluate_autoencoder(AutoencoderKL& vae, const Dataset& data, int64_t count,
                                       int64_t batch_size, FeatureExtractor* extractor,
                                       torch::Device device) {
  torch::NoGradGuard no_grad;
  vae.to(device);
  vae.eval();
  AutoencoderScores s;
  s.images = std::min(count, data.size());
  auto gen = at::detail::createCPUGenerator(0);
  std::vector<torch::Tensor> psnr, ssim, real_features, fake_features;
  double sum = 0, sum_sq = 0, values = 0;
  Progress progress("reconstruct", s.images, "img");
  for (int64_t start = 0; start < s.images; start += batch_size) {
    int64_t end = std::min(s.images, start + batch_size);
    auto x = data.batch(torch::arange(start, end)).images.to(device);
    auto posterior = vae.encode(x);
    auto rec = uint8_to_float(float_to_uint8(vae.decode(posterior.mode()).cpu()));  // as saved
    auto original = x.cpu();
    psnr.push_back(flowlab::psnr((rec + 1) / 2, (original + 1) / 2));
    ssim.push_back(flowlab::ssim((rec + 1) / 2, (original + 1) / 2));
    auto eps = torch::randn(posterior.mean.sizes(), gen, torch::TensorOptions()).to(device);
    auto z = (posterior.mean + posterior.std() * eps).to(torch::kFloat64);
    sum += z.sum().item<double>();
    sum_sq += z.pow(2).sum().item<double>();
    values += static_cast<double>(z.numel());
    if (extractor) {
      real_features.push_back(extractor->features(((original + 1) / 2).to(device)));
      fake_features.push_back(extractor->features(((rec + 1) / 2).to(device)));
    }
    if (start == 0) {
      s.originals = original.slice(0, 0, 8);
      s.reconstructions = rec.slice(0, 0, 8);
    }
    progress.update(end);
  }
  s.psnr = torch::cat(psnr).mean().item<double>();
  s.ssim = torch::cat(ssim).mean().item<double>();
  s.latent_mean = sum / values;
  s.latent_std = std::sqrt(std::max(0.0, sum_sq / values - s.latent_mean * s.latent_mean));
  if (extractor) {
    auto real = torch::cat(real_features), fake = torch::cat(fake_features);
    s.rfid = score(feature_statistics(real), real, fake, false, 0).fid;
  }
  return s;
}

}  // namespace flowlab
