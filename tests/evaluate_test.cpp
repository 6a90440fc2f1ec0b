// evaluate_fid's reference: a dataset reference is built at the size and fit the checkpoint was
// trained at (and cached under both), an image folder is scored against a reference of its own
// size, and a cached reference of another size is refused.
#include <gtest/gtest.h>

#include <filesystem>

#include "flowlab/config.h"
#include "flowlab/data/dataset.h"
#include "flowlab/eval/features.h"
#include "flowlab/io/image.h"
#include "flowlab/io/npz.h"
#include "dataset_files.h"
#include "flowlab/io/files.h"
#include "test_helpers.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

// Eight 28x28 MNIST training digits in IDX files.
void write_mnist_dir(const std::string& dir) {
  std::filesystem::create_directories(dir);
  write_bytes(dir + "/train-images-idx3-ubyte", idx_images(8, 28, 28));
  write_bytes(dir + "/train-labels-idx1-ubyte", idx_labels({0, 1, 2, 3, 4, 5, 6, 7}));
}

// The cached reference features evaluate_fid wrote under XDG_CACHE_HOME=cache_root.
std::vector<std::string> cached_references(const std::string& cache_root) {
  std::vector<std::string> names;
  auto dir = cache_root + "/flowlab/fid";
  if (std::filesystem::is_directory(dir))
    for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename());
  return names;
}

// Reference features computed here, as evaluate_fid should have: the dataset at `size` and `fit`.
torch::Tensor expected_reference(const std::string& mnist_dir, int size, const std::string& fit) {
  DataConfig data;
  data.dataset = "mnist";
  data.data_dir = mnist_dir;
  data.image_size = size;
  data.fit = fit;
  auto extractor = make_inception_extractor("random", torch::kCPU);
  return dataset_features(*extractor, load_dataset(data), 8, torch::kCPU, "expected").features;
}

}  // namespace

TEST(Evaluate, DatasetReferenceHasTheCheckpointsSizeAndFit) {
  TempDir d;
  write_mnist_dir(d / "mnist");
  auto train = run_command(app("train_cfm") + " --config " + FLOWLAB_CONFIGS_DIR + "/quickstart.yaml " +
                           "--dataset mnist --data_dir " + (d / "mnist") + " --set data.fit=resize " +
                           "--steps 1 --batch_size 8 --threads 1 --set training.sample_every=0 " +
                           "--set model.base_channels=8 --output_dir " + (d / "run"));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  auto r = run_command("XDG_CACHE_HOME=" + (d / "cache") + " " + app("evaluate_fid") + " --checkpoint " +
                       (d / "run/last.pt") + " --reference mnist-train --data_dir " + (d / "mnist") +
                       " --random_weights --num_samples 4 --batch_size 4 --steps 2 --threads 1" +
                       " --output " + (d / "fid.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(cached_references(d / "cache"),
            std::vector<std::string>{"mnist-train-16px-resize-inception-random.npz"});
  auto cache = read_npz(d / "cache/flowlab/fid/mnist-train-16px-resize-inception-random.npz");
  EXPECT_EQ(cache.at("image_size").item<int64_t>(), 16);
  EXPECT_TRUE(torch::allclose(cache.at("features"), expected_reference(d / "mnist", 16, "resize"),
                              1e-4, 1e-4));

  // Another size for the checkpoint's samples cannot match them.
  auto other = run_command(app("evaluate_fid") + " --checkpoint " + (d / "run/last.pt") +
                           " --reference mnist-train --data_dir " + (d / "mnist") +
                           " --random_weights --image_size 32 --output " + (d / "other.json"));
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.output.find("the checkpoint generates 16x16 images"), std::string::npos) << other.output;
  EXPECT_FALSE(std::filesystem::exists(d / "other.json"));
}

TEST(Evaluate, ImageFolderIsScoredAgainstAReferenceOfItsOwnSize) {
  TempDir d;
  write_mnist_dir(d / "mnist");
  std::filesystem::create_directories(d / "samples");
  for (int i = 0; i < 4; ++i)
    write_png(d / ("samples/" + std::to_string(i) + ".png"),
              torch::full({1, 12, 12}, 40 * i, torch::kUInt8));
  auto fid = "XDG_CACHE_HOME=" + (d / "cache") + " " + app("evaluate_fid") + " --images " +
             (d / "samples") + " --random_weights --threads 1 --output " + (d / "fid.json");
  auto r = run_command(fid + " --reference mnist-train --data_dir " + (d / "mnist"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // MNIST shrunk to 12x12 is resized (zero-padding to less than 28 would crop the digits).
  EXPECT_EQ(cached_references(d / "cache"),
            std::vector<std::string>{"mnist-train-12px-resize-inception-random.npz"});
  auto cache = read_npz(d / "cache/flowlab/fid/mnist-train-12px-resize-inception-random.npz");
  EXPECT_TRUE(torch::allclose(cache.at("features"), expected_reference(d / "mnist", 12, "resize"),
                              1e-4, 1e-4));

  // The folder against itself: every sample inside its own ball, both ways.
  auto self = run_command(fid + " --reference " + (d / "samples") + " --precision_recall");
  ASSERT_EQ(self.exit_code, 0) << self.output;
  EXPECT_NE(self.output.find("precision 1.0000, recall 1.0000"), std::string::npos) << self.output;
  EXPECT_NE(read_file_text(d / "fid.json").find("\"recall\": 1.0"), std::string::npos);

  // A cached reference of 12x12 images refuses 16x16 ones.
  auto refused = run_command(fid + " --image_size 16 --reference " +
                             (d / "cache/flowlab/fid/mnist-train-12px-resize-inception-random.npz"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("holds reference features of 12x12 images, but the images scored "
                                "here are 16x16"), std::string::npos) << refused.output;
}
