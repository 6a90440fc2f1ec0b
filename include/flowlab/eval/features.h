// Feature extraction for FID/KID: a feature network (Inception or any TorchScript module) and
// the loops that feed it real images or a model's samples in batches.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

#include "flowlab/config.h"
#include "flowlab/data/dataset.h"
#include "flowlab/eval/fid.h"
#include "flowlab/methods/method.h"

namespace flowlab {

class FeatureExtractor {
 public:
  virtual ~FeatureExtractor() = default;
  // images: float (N, C, H, W) in [0, 1] on the extractor's device; C = 1 is repeated to 3.
  // Returns float (N, D) on the CPU.
  virtual torch::Tensor features(const torch::Tensor& images) = 0;
  // Identifies the feature space in cache file names and reports.
  virtual std::string name() const = 0;
  // What the Frechet distance in this space is called: FID for Inception, FD_<name> otherwise.
  virtual std::string metric_name() const { return "FD_" + name(); }
  // This extractor's features (N, D) -> class logits (N, C) for the Inception Score; an Error for
  // a network without a classifier (has_class_logits() false).
  virtual bool has_class_logits() const { return false; }
  virtual torch::Tensor class_logits(const torch::Tensor& features) const;
};

// pytorch-fid's InceptionV3 pool3 features. weights_path: a file from
// scripts/pytorch/convert_inception_weights.py, or "random" for the fixed hashed test weights.
std::unique_ptr<FeatureExtractor> make_inception_extractor(const std::string& weights_path,
                                                           torch::Device device);
// Where the converted weights are when not named: $FLOWLAB_INCEPTION_WEIGHTS, or
// weights/inception_fid.pt.
std::string default_inception_weights();
// Any TorchScript module mapping float (N, 3, H, W) in [0, 1] to (N, D) (scripts/
// export_feature_extractor.py writes them). Its name: the module's string attribute feature_name,
// else the file name without its extension.
std::unique_ptr<FeatureExtractor> make_torchscript_extractor(const std::string& path,
                                                             torch::Device device);

// Features of a set of images, and the labels they belong to.
struct FeatureSet {
  torch::Tensor features;  // float (N, D), CPU
  torch::Tensor labels;    // int64 (N,)
  double images_per_second = 0;  // feature extraction alone
};

FeatureSet dataset_features(FeatureExtractor& extractor, const Dataset& data, int64_t batch_size,
                            torch::Device device, const std::string& label);

struct GeneratedFeatures {
  FeatureSet set;
  int64_t nfe = 0;          // the sampler's network calls per image
  int64_t evaluations = 0;  // network evaluations per image (a CFG double batch counts twice)
  double generation_images_per_second = 0;
};

// Samples labels[i] for every i (null label = unconditional) with noise from `seed`, and
// extracts features batch by batch without keeping the images. `to_pixels`, when given, turns
// samples into images first (a latent model's decoder).
GeneratedFeatures generated_features(FeatureExtractor& extractor, Method& method, Backbone& model,
                                     const torch::Tensor& labels, const Config& config,
                                     uint64_t seed, torch::Device device,
                                     const std::function<torch::Tensor(const torch::Tensor&)>& to_pixels = nullptr);

// FID/KID of one candidate set against one reference set.
struct Scores {
  double fid = 0;
  KidResult kid;  // subsets == 0 when not asked for
  int64_t count = 0;
};

// KID needs reference_features; FID needs only the statistics.
Scores score(const FeatureStatistics& reference, const torch::Tensor& reference_features,
             const torch::Tensor& candidate, bool with_kid, uint64_t seed);

}  // namespace flowlab
