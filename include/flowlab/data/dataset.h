// One in-memory image dataset: every source (CIFAR-10, MNIST, image folder, shapes) loads into this.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace flowlab {

struct DataConfig;

struct Batch {
  torch::Tensor images;  // float (N, C, H, W) in [-1, 1]
  torch::Tensor labels;  // int64 (N,)
};

struct Dataset {
  std::string name;
  torch::Tensor images;  // uint8 (N, C, H, W)
  torch::Tensor labels;  // int64 (N,); all 0 for unconditional sets
  std::vector<std::string> class_names;  // empty for unconditional sets

  int64_t size() const { return images.size(0); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  int64_t channels() const { return images.size(1); }
  int64_t height() const { return images.size(2); }
  int64_t width() const { return images.size(3); }
  std::vector<int64_t> class_counts() const;

  // Images at `indices` (int64, any device) as float in [-1, 1], moved to `device`.
  Batch batch(const torch::Tensor& indices, torch::Device device = torch::kCPU) const;
};

// Loads the dataset named by config.dataset, resized to config.image_size.
Dataset load_dataset(const DataConfig& config);
// The fit load_dataset applies when a dataset's images are not image_size already: data.fit, or
// for "auto" the dataset's own choice (data/registry.cpp).
std::string resolved_fit(const DataConfig& config);
// Whether training flips images horizontally: data.random_flip, where "auto" is the dataset's own
// choice (every dataset but MNIST).
bool random_flip_enabled(const DataConfig& config);

}  // namespace flowlab
