#include "flowlab/eval/features.h"

#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "flowlab/dist/world.h"
#include "flowlab/error.h"
#include "flowlab/eval/inception.h"
#include "flowlab/io/progress.h"
#include "flowlab/sampling/generation_batches.h"
#include "flowlab/stop_signal.h"

namespace flowlab {
namespace {

torch::Tensor three_channels(const torch::Tensor& images) {
  return images.size(1) == 1 ? images.expand({-1, 3, -1, -1}) : images;
}

class InceptionExtractor : public FeatureExtractor {
 public:
  InceptionExtractor(const std::string& weights, torch::Device device) : weights_(weights) {
    if (weights == "random") set_inception_test_weights(net_);
    else load_inception_weights(net_, weights);
    net_->to(device);
    net_->eval();
  }
  torch::Tensor features(const torch::Tensor& images) override {
    torch::InferenceMode guard;
    return net_->forward(three_channels(images)).pool3.cpu();
  }
  std::string name() const override { return weights_ == "random" ? "inception-random" : "inception"; }
  std::string metric_name() const override { return "FID"; }
  bool has_class_logits() const override { return net_->has_classifier; }
  torch::Tensor class_logits(const torch::Tensor& features) const override {
    torch::InferenceMode guard;
    return net_->class_logits(features);
  }

 private:
  std::string weights_;
  FidInceptionV3 net_;
};

class TorchScriptExtractor : public FeatureExtractor {
 public:
  TorchScriptExtractor(const std::string& path, torch::Device device) : path_(path) {
    try {
      module_ = torch::jit::load(path, device);
    } catch (const c10::Error&) {
      throw Error(path + ": not a TorchScript module (save one with torch.jit.save)");
    }
    module_.eval();
  }
  torch::Tensor features(const torch::Tensor& images) override {
    torch::InferenceMode guard;
    auto out = module_.forward({three_channels(images)});
    if (!out.isTensor() || out.toTensor().dim() != 2 || out.toTensor().size(0) != images.size(0))
      throw Error(path_ + ": the feature extractor must return an (N, D) tensor");
    return out.toTensor().to(torch::kFloat32).cpu();
  }
  std::string name() const override {
    if (module_.hasattr("feature_name") && module_.attr("feature_name").isString())
      return module_.attr("feature_name").toStringRef();
    auto slash = path_.find_last_of('/');
    auto file = slash == std::string::npos ? path_ : path_.substr(slash + 1);
    return file.substr(0, file.find_last_of('.'));
  }

 private:
  std::string path_;
  torch::jit::script::Module module_;
};

}  // namespace

torch::Tensor FeatureExtractor::class_logits(const torch::Tensor&) const {
  throw Error("the Inception Score needs the Inception network's classifier; the features " + name() +
              " have none");
}

std::string default_inception_weights() {
  const char* env = std::getenv("FLOWLAB_INCEPTION_WEIGHTS");
  return env ? env : "weights/inception_fid.pt";
}

std::unique_ptr<FeatureExtractor> make_inception_extractor(const std::string& weights_path,
                                                           torch::Device device) {
  return std::make_unique<InceptionExtractor>(weights_path, device);
}

std::unique_ptr<FeatureExtractor> make_torchscript_extractor(const std::string& path,
                                                             torch::Device device) {
  return std::make_unique<TorchScriptExtractor>(path, device);
}

FeatureSet dataset_features(FeatureExtractor& extractor, const Dataset& data, int64_t batch_size,
                            torch::Device device, const std::string& label) {
  std::vector<torch::Tensor> parts;
  Progress progress(label, data.size(), "img");
  double busy = 0;
  for (int64_t start = 0; start < data.size(); start += batch_size) {
    throw_if_stop_requested(label);
    int64_t end = std::min(data.size(), start + batch_size);
    auto images = data.images.slice(0, start, end).to(device).to(torch::kFloat32) / 255.0;
    auto t0 = std::chrono::steady_clock::now();
    parts.push_back(extractor.features(images));
    busy += seconds_since(t0);
    progress.update(end);
  }
  return {torch::cat(parts), data.labels.clone(), static_cast<double>(data.size()) / busy};
}

GeneratedFeatures generated_features(FeatureExtractor& extractor, Method& method, Backbone& model,
                                     const torch::Tensor& labels, const Config& config,
                                     uint64_t seed, torch::Device device,
                                     const std::function<torch::Tensor(const torch::Tensor&)>& to_pixels) {
  const auto& s = config.sampling;
  int64_t n = labels.size(0), c = config.model.in_channels, size = config.data.image_size;
  GeneratedFeatures out;
  std::vector<torch::Tensor> parts;
  double sampling = 0, extracting = 0;
  auto batches = my_generation_batches(n, s.batch_size);
  int64_t mine = 0;
  for (const auto& b : batches) mine += b.count;
  Progress progress("generate + features", mine, "img");
  for (const auto& batch : batches) {
    int64_t start = batch.start, count = batch.count;
    // After each sampler step (t runs from 1 to 0): the batch's share so far, so that a long batch
    // on a CPU reports progress before it ends.
    const int64_t done_before = start - batches.front().start;
    StepHook step_hook = [&](const torch::Tensor& x, double t) {
      throw_if_stop_requested("generation");
      const auto share = static_cast<int64_t>(static_cast<double>(count) * std::clamp(1.0 - t, 0.0, 1.0));
      progress.update(done_before + std::min(count - 1, share));
      return x;
    };
    auto noise = generation_noise(seed, batch, c, size).to(device);
    auto t0 = std::chrono::steady_clock::now();
    auto sample = method.sample(model, noise, labels.slice(0, start, start + count).to(device), s, step_hook);
    auto images = (((to_pixels ? to_pixels(sample.x) : sample.x) + 1) / 2).clamp(0, 1);
    if (device.is_cuda()) torch::cuda::synchronize();
    sampling += seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    parts.push_back(extractor.features(images));
    extracting += seconds_since(t0);
    out.nfe = sample.nfe;
    out.evaluations = sample.evaluations;
    progress.update(done_before + count);
  }
  // Every process's features in sample order; rates over the slowest process's time.
  auto& world = dist::world();
  auto features = world.gather_rows(torch::cat(parts));  // every process has a batch
  auto seconds = world.gather_rows(torch::tensor({{sampling, extracting}}, torch::kDouble)).amax(0);
  out.set = {features, labels.cpu(), static_cast<double>(n) / seconds[1].item<double>()};
  out.generation_images_per_second = static_cast<double>(n) / seconds[0].item<double>();
  return out;
}

Scores score(const FeatureStatistics& reference, const torch::Tensor& reference_features,
             const torch::Tensor& candidate, bool with_kid, uint64_t seed) {
  Scores s;
  s.count = candidate.size(0);
  s.fid = frechet_distance(reference, feature_statistics(candidate));
  if (with_kid) {
    if (!reference_features.defined())
      throw Error("KID needs the reference features; this reference has only mu and sigma");
    s.kid = kernel_inception_distance(reference_features, candidate, 100, 1000, seed);
  }
  return s;
}

}  // namespace flowlab
