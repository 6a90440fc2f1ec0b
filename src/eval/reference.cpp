#include "flowlab/eval/reference.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "flowlab/config.h"
#include "flowlab/data/dataset.h"
#include "flowlab/data/image_folder.h"
#include "flowlab/data/registry.h"
#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/npz.h"
#include "flowlab/strings.h"

namespace flowlab {
namespace {

std::string default_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME")) return std::string(xdg) + "/flowlab";
  if (const char* home = std::getenv("HOME")) return std::string(home) + "/.cache/flowlab";
  return ".flowlab_cache";
}

// "cifar10-train" -> the dataset's config at that split; false when `name` is no such name.
bool dataset_reference(const std::string& name, DataConfig& data) {
  auto dash = name.find('-');
  if (dash == std::string::npos) return false;
  auto dataset = name.substr(0, dash), split = name.substr(dash + 1);
  const auto& entries = dataset_entries();
  bool reference = std::any_of(entries.begin(), entries.end(), [&](const DatasetEntry& e) {
    return e.fid_reference && e.name == dataset;
  });
  if (!reference || (split != "train" && split != "test")) return false;
  data.dataset = dataset;
  data.split = split;
  data.random_flip = "false";
  return true;
}

Reference reference_from_npz(const std::string& path, int image_size) {
  auto arrays = read_npz(path);
  if (!arrays.count("mu") || !arrays.count("sigma"))
    throw Error(path + ": a reference .npz needs arrays 'mu' and 'sigma'");
  if (arrays.count("image_size")) {
    auto size = arrays["image_size"].flatten()[0].item<int64_t>();
    if (size != image_size)
      throw Error(path + " holds reference features of " + std::to_string(size) + "x" +
                  std::to_string(size) + " images, but the images scored here are " +
                  std::to_string(image_size) + "x" + std::to_string(image_size));
  }
  Reference r;
  r.name = path;
  r.stats = {arrays["mu"].to(torch::kFloat64), arrays["sigma"].to(torch::kFloat64), 0};
  if (arrays.count("features")) {
    r.features = arrays["features"].to(torch::kFloat32);
    r.stats.count = r.features.size(0);
  }
  if (arrays.count("labels")) r.labels = arrays["labels"].to(torch::kInt64);
  return r;
}

Reference reference_from_images(const Dataset& data, const std::string& name,
                                FeatureExtractor& extractor, int64_t batch_size, torch::Device device) {
  auto set = dataset_features(extractor, data, batch_size, device, "reference features");
  Reference r;
  r.name = name;
  r.stats = feature_statistics(set.features);
  r.features = set.features;
  r.labels = set.labels;
  r.class_names = data.class_names;
  return r;
}

// A dataset split at options' size and fit: from its cache, else computed and cached.
Reference dataset_reference_features(const std::string& name, DataConfig data,
                                     const ReferenceOptions& options, FeatureExtractor& extractor,
                                     torch::Device device) {
  data.data_dir = options.data_dir;
  data.image_size = options.image_size;
  data.fit = options.fit;
  auto cache = options.cache_path.empty()
                   ? default_reference_cache(name, options.image_size, resolved_fit(data), extractor.name())
                   : options.cache_path;
  Reference reference;
  if (std::ifstream(cache).good()) {
    reference = reference_from_npz(cache, options.image_size);
    spdlog::info("reference: cached features {}", cache);
    if (options.class_names) reference.class_names = load_dataset(data).class_names;
  } else {
    reference = reference_from_images(load_dataset(data), name, extractor, options.batch_size, device);
    auto slash = cache.find_last_of('/');
    if (slash != std::string::npos) ensure_directory(cache.substr(0, slash));
    write_npz(cache, {{"mu", reference.stats.mu}, {"sigma", reference.stats.sigma},
                      {"features", reference.features}, {"labels", reference.labels},
                      {"image_size", torch::tensor({static_cast<int64_t>(options.image_size)})}});
    spdlog::info("reference features cached in {}", cache);
  }
  reference.name = name;
  return reference;
}

}  // namespace

bool is_dataset_reference(const std::string& name) {
  DataConfig unused;
  return dataset_reference(name, unused);
}

std::string training_set_reference(const DataConfig& data) {
  if (is_dataset_reference(data.dataset + "-train")) return data.dataset + "-train";
  if (data.dataset == "folder") return data.data_dir;
  return "";
}

void check_reference_name(const std::string& name, const ReferenceOptions& options) {
  if (is_dataset_reference(name)) {
    if (options.data_dir.empty()) throw Error("--reference " + name + " needs --data_dir");
    return;
  }
  if (::access(name.c_str(), R_OK) != 0)
    throw Error("--reference " + name + ": no such .npz file or image folder (or a dataset "
                "name: cifar10-train, cifar10-test, mnist-train, mnist-test)");
}

std::string default_reference_cache(const std::string& name, int image_size, const std::string& fit,
                                    const std::string& extractor_name) {
  return default_cache_dir() + "/fid/" + name + "-" + std::to_string(image_size) + "px-" + fit +
         "-" + extractor_name + ".npz";
}

Reference load_reference(const std::string& name, const ReferenceOptions& options,
                         FeatureExtractor& extractor, torch::Device device) {
  if (ends_with(name, ".npz")) return reference_from_npz(name, options.image_size);
  DataConfig data;
  if (dataset_reference(name, data)) return dataset_reference_features(name, data, options, extractor, device);
  return reference_from_images(load_image_folder(name, options.image_size, "resize"), name, extractor,
                               options.batch_size, device);
}

std::vector<ClassScores> per_class_scores(const Reference& reference, const FeatureSet& candidate,
                                          bool with_kid, uint64_t seed) {
  if (!reference.labels.defined())
    throw Error("--per_class needs reference labels: use a dataset reference such as cifar10-train");
  std::vector<ClassScores> classes;
  int64_t k_max = reference.labels.max().item<int64_t>();
  for (int64_t k = 0; k <= k_max; ++k) {
    auto ref_rows = (reference.labels == k).nonzero().squeeze(1);
    auto cand_rows = (candidate.labels == k).nonzero().squeeze(1);
    if (ref_rows.size(0) < 2 || cand_rows.size(0) < 2) continue;
    auto ref_features = reference.features.index_select(0, ref_rows);
    auto s = score(feature_statistics(ref_features), ref_features,
                   candidate.features.index_select(0, cand_rows), with_kid, seed);
    std::string name = k < static_cast<int64_t>(reference.class_names.size())
                           ? reference.class_names[k] : std::to_string(k);
    classes.push_back({k, name, s});
  }
  return classes;
}

}  // namespace flowlab
