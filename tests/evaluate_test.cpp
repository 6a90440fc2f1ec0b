// evaluate_fid's reference: a dataset reference is built at the size and fit the checkpoint was
// trained at (and cached under both), an image folder is scored against a reference of its own
// size, and a cached reference of another size is refused.
#include <gtest/gtest.h>

#include <filesystem>

#include "flowlab/config.h"
#include "flowlab/data/dataset.h"
#include "flowlab/eval/features.h"
#include "flowlab/eval/inception_score.h"
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
  // Without --reference and --data_dir: the checkpoint's training set, in its directory, and the
  // protocol printed and written beside the number.
  auto defaults = run_command("XDG_CACHE_HOME=" + (d / "cache") + " " + app("evaluate_fid") + " --checkpoint " +
                              (d / "run/last.pt") + " --random_weights --num_samples 4 --batch_size 4 --steps 2" +
                              " --threads 1 --output " + (d / "defaults.json"));
  ASSERT_EQ(defaults.exit_code, 0) << defaults.output;
  auto protocol = nlohmann::json::parse(read_file_text(d / "defaults.json"))["protocol"];
  EXPECT_EQ(protocol["reference"], "mnist-train");
  EXPECT_EQ(protocol["reference_images"], 8);
  EXPECT_EQ(protocol["samples"], 4);
  EXPECT_EQ(protocol["sampler"], "euler");
  EXPECT_EQ(protocol["nfe"], 2);
  EXPECT_EQ(protocol["ema"], true);
  EXPECT_EQ(protocol["ema_decay"], 0.999);  // quickstart.yaml's
  EXPECT_NE(defaults.output.find("protocol custom: 4 samples of " + (d / "run/last.pt") +
                                 " (EMA 0.999 weights), euler 2 steps, NFE 2"), std::string::npos) << defaults.output;
  // The paper protocol scores against the training set only, and 50,000 samples only.
  auto paper = app("evaluate_fid") + " --checkpoint " + (d / "run/last.pt") + " --random_weights --protocol paper";
  auto other_reference = run_command(paper + " --reference mnist-test");
  EXPECT_NE(other_reference.exit_code, 0);
  EXPECT_NE(other_reference.output.find("--protocol paper scores against the training set (mnist-train)"),
            std::string::npos) << other_reference.output;
  auto fewer = run_command(paper + " --num_samples 5000");
  EXPECT_NE(fewer.exit_code, 0);
  EXPECT_NE(fewer.output.find("--protocol paper scores 50000 samples"), std::string::npos) << fewer.output;
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

TEST(Evaluate, InceptionScoreOfAFolderAndThePaperProtocolsCount) {
  TempDir d;
  std::filesystem::create_directories(d / "samples");
  std::vector<torch::Tensor> images;
  for (int i = 0; i < 12; ++i) {
    images.push_back(torch::rand({3, 16, 16}));
    write_png(d / ("samples/" + std::to_string(i) + ".png"), float_to_uint8(images.back() * 2 - 1));
  }
  auto fid = app("evaluate_fid") + " --images " + (d / "samples") + " --reference " + (d / "samples") +
             " --random_weights --threads 1 --output " + (d / "fid.json");
  auto r = run_command(fid + " --inception_score");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto report = nlohmann::json::parse(read_file_text(d / "fid.json"));
  // The score of the folder's own features, as the library computes it (the PNGs' rounding kept).
  std::vector<torch::Tensor> read;
  for (int i = 0; i < 12; ++i) read.push_back(read_image(d / ("samples/" + std::to_string(i) + ".png"), 3));
  auto extractor = make_inception_extractor("random", torch::kCPU);
  auto expected = inception_score(
      extractor->class_logits(extractor->features(torch::stack(read).to(torch::kFloat32) / 255)));
  EXPECT_NEAR(report["inception_score_mean"].get<double>(), expected.mean, 1e-4 * expected.mean);
  EXPECT_NEAR(report["inception_score_std"].get<double>(), expected.std, 1e-4);
  EXPECT_GT(expected.mean, 1.0);
  EXPECT_EQ(report["metric"], "FID");
  EXPECT_EQ(report["protocol"]["images"], d / "samples");
  EXPECT_NE(r.output.find("Inception Score "), std::string::npos) << r.output;

  auto paper = run_command(fid + " --protocol paper");
  EXPECT_NE(paper.exit_code, 0);
  EXPECT_NE(paper.output.find("--protocol paper scores 50000 images; " + (d / "samples") + " holds 12"),
            std::string::npos) << paper.output;
  auto unknown = run_command(fid + " --protocol iclr");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("--protocol iclr: the one protocol is paper"), std::string::npos) << unknown.output;
}

// Another feature network, exported by scripts/pytorch/export_feature_extractor.py, names the distance
// FD_<network>.
TEST(Evaluate, AnExportedFeatureNetworkNamesItsDistance) {
  if (run_command("/usr/bin/python3 -c 'import torch, torchvision'").exit_code != 0)
    GTEST_SKIP() << "the export needs /usr/bin/python3 with python3-torch and python3-torchvision "
                    "(FLOWLAB_SETUP_PYTHON=1 scripts/setup.sh)";
  TempDir d;
  std::filesystem::create_directories(d / "samples");
  for (int i = 0; i < 4; ++i)
    write_png(d / ("samples/" + std::to_string(i) + ".png"), float_to_uint8(torch::rand({3, 16, 16}) * 2 - 1));
  auto exported = run_command("/usr/bin/python3 " + std::string(FLOWLAB_FIXTURES_DIR) +
                              "/../../scripts/pytorch/export_feature_extractor.py torchvision:resnet18 --random " +
                              (d / "resnet18.pt"));
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  auto r = run_command("XDG_CACHE_HOME=" + (d / "cache") + " " + app("evaluate_fid") + " --images " +
                       (d / "samples") + " --reference " + (d / "samples") + " --feature_extractor " +
                       (d / "resnet18.pt") + " --threads 1 --output " + (d / "fd.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto report = nlohmann::json::parse(read_file_text(d / "fd.json"));
  EXPECT_EQ(report["metric"], "FD_resnet18");
  EXPECT_EQ(report["features"], "resnet18");
  EXPECT_FALSE(report["overall"].contains("fid"));
  EXPECT_NEAR(report["overall"]["fd"].get<double>(), 0.0, 1e-3);  // the folder against itself
  EXPECT_NE(r.output.find("FD_resnet18"), std::string::npos) << r.output;
  // No classifier: the Inception Score is refused before any work.
  auto refused = run_command(app("evaluate_fid") + " --images " + (d / "samples") + " --reference " +
                             (d / "samples") + " --feature_extractor " + (d / "resnet18.pt") + " --inception_score");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("the features resnet18 lack"), std::string::npos) << refused.output;
}
