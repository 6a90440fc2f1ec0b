#include "flowlab/training/training_eval.h"

#include <chrono>
#include <fstream>
#include <limits>

#include "flowlab/data/dataset.h"
#include "flowlab/error.h"
#include "flowlab/io/progress.h"

namespace flowlab {

TrainingEvaluator::TrainingEvaluator(const Config& config, torch::Device device)
    : config_(config), device_(device), codec_(config.model, device) {
  const auto& e = config.eval;
  if (!e.sampler.empty()) config_.sampling.sampler = e.sampler;
  if (e.steps > 0) config_.sampling.steps = e.steps;
  if (e.cfg_scale >= 0) config_.sampling.cfg_scale = e.cfg_scale;
  reference_name_ = e.reference.empty() ? training_set_reference(config.data) : e.reference;
  if (reference_name_.empty())
    throw Error("config: training.eval_every needs eval.reference for data.dataset " + config.data.dataset +
                " (a dataset split such as cifar10-train, an .npz of statistics or a folder of images)");
  reference_options_.image_size = static_cast<int>(config.data.image_size * codec_.downsampling());
  reference_options_.fit = resolved_fit(config.data);
  reference_options_.data_dir = config.data.data_dir;
  check_reference_name(reference_name_, reference_options_);
  extractor_ = make_inception_extractor(e.inception_weights.empty() ? default_inception_weights()
                                                                    : e.inception_weights,
                                        device);
}

nlohmann::json TrainingEvaluator::evaluate(Method& method, Backbone& ema, int64_t step) {
  auto t0 = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  if (!reference_) reference_ = load_reference(reference_name_, reference_options_, *extractor_, device_);
  const int64_t n = config_.eval.num_samples, classes = ema.num_classes();
  auto labels = classes > 0 ? torch::arange(n, torch::kInt64) % classes
                            : torch::full({n}, ema.null_label(), torch::kInt64);
  auto to_pixels = [&](const torch::Tensor& x) { return codec_.decode(x); };
  // The same noise at every evaluation: the curve shows the model changing, not the draw.
  const auto seed = static_cast<uint64_t>(config_.training.seed) + 11;
  auto generated = generated_features(*extractor_, method, ema, labels, config_, seed, device_, to_pixels);
  auto scores = score(reference_->stats, reference_->features, generated.set.features, config_.eval.kid, seed);
  nlohmann::json record = {{"step", step},
                           {"fid", scores.fid},
                           {"eval_samples", n},
                           {"eval_nfe", generated.nfe},
                           {"eval_seconds", seconds_since(t0)}};
  if (config_.eval.kid) {
    record["kid_mean"] = scores.kid.mean;
    record["kid_std"] = scores.kid.std;
  }
  return record;
}

double best_logged_fid(const std::string& metrics_path, int64_t up_to_step) {
  double best = std::numeric_limits<double>::infinity();
  std::ifstream in(metrics_path);
  std::string line;
  while (std::getline(in, line)) {
    auto record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.contains("fid") || !record.contains("step")) continue;
    if (record["step"].get<int64_t>() <= up_to_step) best = std::min(best, record["fid"].get<double>());
  }
  return best;
}

}  // namespace flowlab
