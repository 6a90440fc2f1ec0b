#include "flowlab/data/cifar10.h"

#include <filesystem>
#include <fstream>

#include "flowlab/error.h"
#include "flowlab/io/files.h"

namespace flowlab {
namespace {

const std::vector<std::string> kDefaultNames = {"airplane", "automobile", "bird", "cat", "deer",
                                                "dog",      "frog",       "horse", "ship", "truck"};

std::vector<std::string> read_class_names(const std::filesystem::path& dir) {
  std::ifstream in(dir / "batches.meta.txt");
  if (!in) return kDefaultNames;
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  return names.size() == 10 ? names : kDefaultNames;
}

}  // namespace

Dataset load_cifar10(const std::string& dir, const std::string& split) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir))
    throw Error("cifar10: data directory " + dir + " does not exist (expected the binary version, "
                "cifar-10-batches-bin, with data_batch_1..5.bin and test_batch.bin)");
  std::vector<std::string> files;
  if (split == "train") {
    for (int i = 1; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
  } else if (split == "test") {
    files.push_back("test_batch.bin");
  } else {
    throw Error("cifar10: split '" + split + "' is not train or test");
  }

  std::vector<std::vector<uint8_t>> contents;
  int64_t total = 0;
  for (const auto& name : files) {
    auto path = (fs::path(dir) / name).string();
    contents.push_back(read_file_bytes(path));
    const auto& bytes = contents.back();
    if (bytes.empty() || bytes.size() % kCifarRecordBytes != 0)
      throw Error("cifar10: " + path + " has " + std::to_string(bytes.size()) +
                  " bytes, not a whole number of 3073-byte records (truncated or not the binary version)");
    total += static_cast<int64_t>(bytes.size()) / kCifarRecordBytes;
  }

  auto records = torch::empty({total, kCifarRecordBytes}, torch::kUInt8);
  int64_t row = 0;
  for (size_t f = 0; f < contents.size(); ++f) {
    int64_t n = static_cast<int64_t>(contents[f].size()) / kCifarRecordBytes;
    std::memcpy(records[row].data_ptr<uint8_t>(), contents[f].data(), contents[f].size());
    auto max_label = records.slice(0, row, row + n).select(1, 0).max().item<int>();
    if (max_label > 9)
      throw Error("cifar10: " + (fs::path(dir) / files[f]).string() + " has label " +
                  std::to_string(max_label) + " (labels must be 0-9)");
    row += n;
    contents[f].clear();
    contents[f].shrink_to_fit();
  }

  Dataset data;
  data.name = "cifar10";
  data.labels = records.select(1, 0).to(torch::kInt64);
  data.images = records.slice(1, 1).reshape({total, 3, 32, 32}).contiguous();
  data.class_names = read_class_names(dir);
  return data;
}

}  // namespace flowlab
