#include "flowlab/data/image_folder.h"

#include <algorithm>
#include <filesystem>

#include "flowlab/data/transforms.h"
#include "flowlab/error.h"
#include "flowlab/io/image.h"

namespace flowlab {
namespace {

namespace fs = std::filesystem;

bool has_image_extension(const fs::path& p) {
  auto ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

std::vector<fs::path> sorted_images(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && has_image_extension(entry.path())) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

Dataset load_image_folder(const std::string& root, int image_size, const std::string& fit) {
  if (!fs::is_directory(root)) throw Error("folder: " + root + " is not a directory");
  std::vector<fs::path> class_dirs;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory()) class_dirs.push_back(entry.path());
  std::sort(class_dirs.begin(), class_dirs.end());

  Dataset data;
  data.name = "folder";
  std::vector<std::pair<fs::path, int64_t>> items;
  if (class_dirs.empty()) {
    for (auto& p : sorted_images(root)) items.emplace_back(p, 0);
  } else {
    for (size_t c = 0; c < class_dirs.size(); ++c) {
      data.class_names.push_back(class_dirs[c].filename().string());
      for (auto& p : sorted_images(class_dirs[c])) items.emplace_back(p, static_cast<int64_t>(c));
    }
  }
  if (items.empty())
    throw Error("folder: no .png/.jpg/.jpeg/.bmp images in " + root +
                " (expected root/<class>/*.png or a flat folder of images)");

  auto first = read_image(items[0].first.string(), 3);  // (3, H, W)
  if (image_size <= 0) {
    if (first.size(1) != first.size(2))
      throw Error("folder: " + items[0].first.string() + " is " + std::to_string(first.size(2)) + "x" +
                  std::to_string(first.size(1)) + ", not square; give the size to fit the images to");
    image_size = static_cast<int>(first.size(1));
  }
  auto images = torch::empty({static_cast<int64_t>(items.size()), 3, image_size, image_size},
                             torch::kUInt8);
  auto labels = torch::empty({static_cast<int64_t>(items.size())}, torch::kInt64);
  for (size_t i = 0; i < items.size(); ++i) {
    auto img = i == 0 ? first : read_image(items[i].first.string(), 3);  // (3, H, W)
    images[static_cast<int64_t>(i)] = fit_images(img.unsqueeze(0), image_size, fit)[0];
    labels[static_cast<int64_t>(i)] = items[i].second;
  }
  data.images = images;
  data.labels = labels;
  return data;
}

}  // namespace flowlab
