#include "flowlab/data/dataset.h"

#include "flowlab/config.h"
#include "flowlab/data/registry.h"
#include "flowlab/data/transforms.h"
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
  auto data = dataset_entry(config.dataset).load(config);
  if (data.height() != config.image_size || data.width() != config.image_size)
    data.images = fit_images(data.images, config.image_size, resolved_fit(config));
  return data;
}

bool random_flip_enabled(const DataConfig& config) {
  if (config.random_flip == "auto") return dataset_entry(config.dataset).flips_by_default;
  return config.random_flip == "true";
}

std::string resolved_fit(const DataConfig& config) {
  if (config.fit != "auto") return config.fit;
  return dataset_entry(config.dataset).auto_fit(config.image_size);
}

}  // namespace flowlab
