#include "flowlab/data/registry.h"

#include "flowlab/config.h"
#include "flowlab/data/cifar10.h"
#include "flowlab/data/couplings.h"
#include "flowlab/data/image_folder.h"
#include "flowlab/data/dataset.h"
#include "flowlab/data/latent_dataset.h"
#include "flowlab/data/mnist.h"
#include "flowlab/data/shapes.h"
#include "flowlab/named_entries.h"

namespace flowlab {
namespace {

// encode_latents' output as a Dataset.
Dataset read_latent_training_set(const std::string& dir) {
  auto set = read_latent_dataset(dir);
  return latent_training_set(std::move(set.rows), std::move(set.class_names), std::move(set.vae),
                             "latents of " + set.source.dataset);
}

}  // namespace

const std::vector<DatasetEntry>& dataset_entries() {
  auto resize = [](int) { return std::string("resize"); };
  static const std::vector<DatasetEntry> entries = {
      {"cifar10", true, true, true, resize,
       [](const DataConfig& c) { return load_cifar10(c.data_dir, c.split); }},
      // A mirrored digit is another glyph. Zero-padding 28 -> 32 keeps the strokes unresampled;
      // padding to less than 28 would crop them.
      {"mnist", true, false, true,
       [](int size) { return std::string(size >= 28 ? "pad" : "resize"); },
       [](const DataConfig& c) { return load_mnist(c.data_dir, c.split); }},
      {"folder", true, true, false, [](int) { return std::string("crop"); },
       [](const DataConfig& c) { return load_image_folder(c.data_dir, c.image_size, resolved_fit(c)); }},
      {"shapes", false, true, false, resize,
       [](const DataConfig& c) { return make_shapes(c.num_images, c.image_size, c.shapes_seed); }},
      // encode_latents' output, at its own size; flips when it was encoded with them.
      {"latents", true, true, false, [](int) { return std::string("pad"); },
       [](const DataConfig& c) { return read_latent_training_set(c.data_dir); }},
      // generate_samples --couplings' output, at its own size, never flipped (reflow).
      {"couplings", true, false, false, [](int) { return std::string("pad"); },
       [](const DataConfig& c) { return load_couplings(c.data_dir); }},
  };
  return entries;
}

const DatasetEntry& dataset_entry(const std::string& name) {
  return find_entry(dataset_entries(), name, "data.dataset");
}

std::vector<std::string> dataset_names() {
  return entry_names(dataset_entries());
}

}  // namespace flowlab
