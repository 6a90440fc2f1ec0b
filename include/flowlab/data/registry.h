// Datasets by name (data.dataset, --dataset): how each loads, and what "auto" means for it.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "flowlab/data/dataset.h"

namespace flowlab {

struct DatasetEntry {
  std::string name;
  bool needs_data_dir = true;    // false: built in
  bool flips_by_default = true;  // data.random_flip: auto
  bool fid_reference = false;    // evaluate_fid --reference NAME-train / NAME-test
  // data.fit: auto, for images that must change size to image_size.
  std::function<std::string(int image_size)> auto_fit;
  // The images at their own size (a folder's at image_size, fitted as the config says).
  std::function<Dataset(const DataConfig&)> load;
};

const std::vector<DatasetEntry>& dataset_entries();
// Throws "config: data.dataset = NAME: must be one of: ...".
const DatasetEntry& dataset_entry(const std::string& name);
std::vector<std::string> dataset_names();

}  // namespace flowlab
