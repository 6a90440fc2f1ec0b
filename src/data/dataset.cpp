#include "flowlab/data/dataset.h"

#include "flowlab/config.h"
#include "flowlab/data/cifar10.h"
#include "flowlab/data/image_folder.h"
#include "flowlab/data/mnist.h"
#include "flowlab/data/shapes.h"
#include "flowlab/data/transforms.h"
#include "flowlab/error.h"
#include "flowlab/io/image.h"

namespace flowlab {

std::vector<int64_t> Dataset::class_counts() const {
  std::vector<int64_t> counts(std::max<int64_t>(num_classes(), 1), 0);
  auto bins = torch::bincount(labels.to(torch::kCPU), {}, static_cast<int64_t>(counts.size()));
  auto acc = bins.accessor<int64_t, 1>();
  for (size_t i = 0; i < counts.size(); ++i) counts[i] = acc[static_cast<int64_t>(i)];
  return counts;
}

Batch Dataset::batch(const torch::Tensor& indices, torch::Device device) const {
  auto idx = indices.to(images.device());
  Batch b;
  b.images = uint8_to_float(images.index_select(0, idx).to(device));
  b.labels = labels.index_select(0, idx.to(labels.device())).to(device);
  return b;
}

Dataset load_dataset(const DataConfig& config) {
  Dataset data;
  if (config.dataset == "cifar10") {
    data = load_cifar10(config.data_dir, config.split);
  } else if (config.dataset == "mnist") {
    data = load_mnist(config.data_dir, config.split);
  } else if (config.dataset == "folder") {
    data = load_image_folder(config.data_dir, config.image_size, resolved_fit(config));
  } else if (config.dataset == "shapes") {
    data = make_shapes(config.num_images, config.image_size, config.shapes_seed);
  } else {
    throw Error("data.dataset '" + config.dataset + "' is not one of: cifar10 mnist folder shapes");
  }
  if (data.height() != config.image_size || data.width() != config.image_size)
    data.images = fit_images(data.images, config.image_size, resolved_fit(config));
  return data;
}

bool random_flip_enabled(const DataConfig& config) {
  if (config.random_flip == "auto") return config.dataset != "mnist";
  return config.random_flip == "true";
}

std::string resolved_fit(const DataConfig& config) {
  if (config.fit != "auto") return config.fit;
  if (config.dataset == "folder") return "crop";
  // MNIST keeps its strokes unresampled when padded 28 -> 32; padding to less would crop them.
  return config.dataset == "mnist" && config.image_size >= 28 ? "pad" : "resize";
}

}  // namespace flowlab
