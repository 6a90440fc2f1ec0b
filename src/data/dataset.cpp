#include "flowlab/data/dataset.h"

#include "flowlab/config.h"
#include "flowlab/data/registry.h"
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
  auto rows = images.index_select(0, idx).to(device);
  b.images = is_latent() ? autoencoder.to_model_scale(rows) : is_couplings() ? rows : uint8_to_float(rows);
  b.labels = labels.index_select(0, idx.to(labels.device())).to(device);
  if (is_couplings()) b.noise = noise.index_select(0, idx.to(noise.device())).to(device);
  return b;
}

Batch Dataset::sample_latents(const torch::Tensor& indices, const torch::Tensor& flip, StepRandom& rng,
                              torch::Device device) const {
  TORCH_CHECK(is_latent(), "sample_latents needs a latent dataset");
  // Each tensor may live on its own device (training.data_on_device moves the means).
  auto rows_of = [&](const torch::Tensor& t) { return t.index_select(0, indices.to(t.device())).to(device); };
  auto mean = rows_of(images), std = rows_of(latent_std);
  if (flip.defined()) {
    TORCH_CHECK(flip_mean.defined(), "sample_latents: this latent dataset was encoded without flips");
    auto mirrored = flip.to(device).view({-1, 1, 1, 1});
    mean = torch::where(mirrored, rows_of(flip_mean), mean);
    std = torch::where(mirrored, rows_of(flip_std), std);
  }
  Batch b;
  b.images = autoencoder.to_model_scale(mean + std * rng.randn_like(mean));
  b.labels = rows_of(labels);
  return b;
}

Dataset latent_training_set(LatentShard rows, std::vector<std::string> class_names, AutoencoderIdentity autoencoder,
                            std::string name) {
  Dataset d;
  d.name = std::move(name);
  d.images = rows.mean;
  d.latent_std = rows.std;
  d.flip_mean = rows.flip_mean;
  d.flip_std = rows.flip_std;
  d.labels = rows.labels;
  d.class_names = std::move(class_names);
  d.autoencoder = std::move(autoencoder);
  return d;
}

Dataset load_dataset(const DataConfig& config) {
  auto data = dataset_entry(config.dataset).load(config);
  // Latents and couplings at their own size (the trainer takes it from them).
  if (data.is_latent() || data.is_couplings()) return data;
  if (data.height() != config.image_size || data.width() != config.image_size)
    data.images = fit_images(data.images, config.image_size, resolved_fit(config));
  return data;
}

bool random_flip_enabled(const DataConfig& config, const Dataset& data) {
  if (data.is_couplings()) {
    if (config.random_flip == "true")
      throw Error("data.random_flip = true: a flipped coupling is no longer the image its noise made; couplings "
                  "train unflipped");
    return false;
  }
  if (data.is_latent()) {
    if (config.random_flip == "true" && !data.flip_mean.defined())
      throw Error("data.random_flip = true, but the latent dataset in " + config.data_dir +
                  " was encoded without --flips (a flip cannot be applied to latents)");
    return config.random_flip != "false" && data.flip_mean.defined();
  }
  if (config.random_flip == "auto") return dataset_entry(config.dataset).flips_by_default;
  return config.random_flip == "true";
}

std::string resolved_fit(const DataConfig& config) {
  if (config.fit != "auto") return config.fit;
  return dataset_entry(config.dataset).auto_fit(config.image_size);
}

}  // namespace flowlab
