// The real images a set is scored against (evaluate_fid --reference): a dataset split by name
// (cifar10-train, mnist-test, ...) built at the candidate's size and cached, an .npz of
// statistics or features, or a folder of images. And per-class scores against it.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "flowlab/config.h"
#include "flowlab/eval/features.h"
#include "flowlab/eval/fid.h"

namespace flowlab {

// Statistics always; features and labels when computed from images or read from a flowlab cache
// (needed by KID and per-class scores).
struct Reference {
  std::string name;
  FeatureStatistics stats;
  torch::Tensor features, labels;
  std::vector<std::string> class_names;
};

struct ReferenceOptions {
  int image_size = 32;      // the size of the images scored against it
  std::string fit = "auto";  // how a dataset reference's images reach image_size (data.fit)
  std::string data_dir;     // a dataset reference's directory
  std::string cache_path;   // where a dataset reference's features are cached ("": the default)
  bool class_names = false;  // a cached dataset reference also gets its class names
  int64_t batch_size = 100;
};

// "cifar10-train", "mnist-test", ...: a split of a dataset that can be a reference.
bool is_dataset_reference(const std::string& name);
// The training set of `data` as a reference name: DATASET-train for the datasets that are
// references, the folder of a folder dataset; "" for datasets that are neither.
std::string training_set_reference(const DataConfig& data);
// Throws Error for a name that is no dataset reference, readable .npz or folder, or for a dataset
// reference without options.data_dir. Cheap: run it before long work.
void check_reference_name(const std::string& name, const ReferenceOptions& options);

// The default cache of a dataset reference: $XDG_CACHE_HOME/flowlab (or ~/.cache/flowlab)
// /fid/NAME-SIZEpx-FIT-EXTRACTOR.npz.
std::string default_reference_cache(const std::string& name, int image_size, const std::string& fit,
                                    const std::string& extractor_name);

// Reads or builds the reference. A flowlab .npz records its image size and must match
// options.image_size (statistics without one, such as pytorch-fid's, are taken as they are).
Reference load_reference(const std::string& name, const ReferenceOptions& options,
                         FeatureExtractor& extractor, torch::Device device);

struct ClassScores {
  int64_t label;
  std::string name;
  Scores scores;
};

// Each class's candidates against that class's reference images (classes with fewer than two
// of either are left out). Needs the reference's features and labels.
std::vector<ClassScores> per_class_scores(const Reference& reference, const FeatureSet& candidate,
                                          bool with_kid, uint64_t seed);

}  // namespace flowlab
