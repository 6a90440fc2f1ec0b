#include <gtest/gtest.h>
#include <zlib.h>

#include "flowlab/config.h"
#include "flowlab/data/batcher.h"
#include "flowlab/data/cifar10.h"
#include "flowlab/data/image_folder.h"
#include "flowlab/data/mnist.h"
#include "flowlab/data/shapes.h"
#include "flowlab/data/transforms.h"
#include "flowlab/error.h"
#include "flowlab/io/image.h"
#include "flowlab/methods/registry.h"
#include "flowlab/training/trainer.h"
#include "dataset_files.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using flowlab::testing::TempDir;
using flowlab::testing::error_of;
using flowlab::testing::write_bytes;
using namespace flowlab::testing;


TEST(Cifar10, ReadsRecordsLabelsPixelsAndClassNames) {
  TempDir dir;
  write_cifar_dir(dir.path(), 4);
  auto train = load_cifar10(dir.path(), "train");
  ASSERT_EQ(train.size(), 20);
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{20, 3, 32, 32}));
  EXPECT_EQ(train.labels[0].item<int64_t>(), 1);  // file 1, record 0
  EXPECT_EQ(train.labels[5].item<int64_t>(), 3);  // file 2, record 1
  // Pixel (c=2, y=5, x=9) of record 5 (label 3): (3*7 + 100 + 14) % 256 = 135
  EXPECT_EQ(train.images[5][2][5][9].item<int>(), 135);
  EXPECT_EQ(train.class_names[9], "truck");
  auto test = load_cifar10(dir.path(), "test");
  EXPECT_EQ(test.size(), 3);
  EXPECT_EQ(test.labels[2].item<int64_t>(), 4);
}

TEST(Cifar10, TruncatedFileIsAnErrorNamingTheFile) {
  TempDir dir;
  write_cifar_dir(dir.path(), 2);
  auto bytes = cifar_records({1, 2});
  bytes.resize(bytes.size() - 100);
  write_bytes(dir / "data_batch_3.bin", bytes);
  auto msg = error_of([&] { load_cifar10(dir.path(), "train"); });
  EXPECT_NE(msg.find("data_batch_3.bin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3073"), std::string::npos) << msg;
}

TEST(Cifar10, LabelAboveNineIsAnError) {
  TempDir dir;
  write_cifar_dir(dir.path(), 2);
  write_bytes(dir / "test_batch.bin", cifar_records({1, 12}));
  auto msg = error_of([&] { load_cifar10(dir.path(), "test"); });
  EXPECT_NE(msg.find("test_batch.bin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("label 12"), std::string::npos) << msg;
}

TEST(Cifar10, MissingDirectoryOrFileIsAnError) {
  EXPECT_NE(error_of([] { load_cifar10("/nonexistent", "train"); }).find("does not exist"),
            std::string::npos);
  TempDir dir;
  EXPECT_NE(error_of([&] { load_cifar10(dir.path(), "test"); }).find("test_batch.bin"),
            std::string::npos);
}

TEST(Mnist, ReadsPlainAndGzippedIdx) {
  TempDir plain, gz;
  std::vector<uint8_t> labels = {5, 0, 4, 1, 9};
  write_bytes(plain / "train-images-idx3-ubyte", idx_images(5, 28, 28));
  write_bytes(plain / "train-labels-idx1-ubyte", idx_labels(labels));
  write_gz(gz / "train-images-idx3-ubyte.gz", idx_images(5, 28, 28));
  write_gz(gz / "train-labels-idx1-ubyte.gz", idx_labels(labels));
  for (const auto* dir : {&plain, &gz}) {
    auto data = load_mnist(dir->path(), "train");
    ASSERT_EQ(data.size(), 5);
    EXPECT_EQ(data.images.sizes(), (std::vector<int64_t>{5, 1, 28, 28}));
    EXPECT_EQ(data.labels[4].item<int64_t>(), 9);
    // Image 1, row 2, col 3 -> flat index 784 + 59 = 843, value 843 % 251 = 90
    EXPECT_EQ(data.images[1][0][2][3].item<int>(), 90);
  }
}

TEST(Mnist, WrongMagicTruncationAndCountMismatchAreErrors) {
  TempDir dir;
  write_bytes(dir / "t10k-images-idx3-ubyte", idx_images(3, 28, 28, 2049));
  write_bytes(dir / "t10k-labels-idx1-ubyte", idx_labels({1, 2, 3}));
  EXPECT_NE(error_of([&] { load_mnist(dir.path(), "test"); }).find("magic number 2049, expected 2051"),
            std::string::npos);
  auto truncated = idx_images(3, 28, 28);
  truncated.resize(truncated.size() - 10);
  write_bytes(dir / "t10k-images-idx3-ubyte", truncated);
  EXPECT_NE(error_of([&] { load_mnist(dir.path(), "test"); }).find("truncated"), std::string::npos);
  write_bytes(dir / "t10k-images-idx3-ubyte", idx_images(3, 28, 28));
  write_bytes(dir / "t10k-labels-idx1-ubyte", idx_labels({1, 2}));
  EXPECT_NE(error_of([&] { load_mnist(dir.path(), "test"); }).find("3 images but 2 labels"),
            std::string::npos);
}

TEST(Mnist, TruncatedGzipIsAnError) {
  TempDir dir, src;
  write_gz(src / "x.gz", idx_images(20, 28, 28));
  auto bytes = flowlab::testing::run_command("head -c 300 " + (src / "x.gz") + " > " +
                                             (dir / "train-images-idx3-ubyte.gz"));
  write_bytes(dir / "train-labels-idx1-ubyte", idx_labels(std::vector<uint8_t>(20, 1)));
  auto msg = error_of([&] { load_mnist(dir.path(), "train"); });
  EXPECT_NE(msg.find("train-images-idx3-ubyte.gz"), std::string::npos) << msg;
}

TEST(Mnist, PadsTo32ThroughLoadDataset) {
  TempDir dir;
  write_bytes(dir / "train-images-idx3-ubyte", idx_images(2, 28, 28));
  write_bytes(dir / "train-labels-idx1-ubyte", idx_labels({7, 3}));
  DataConfig cfg;
  cfg.dataset = "mnist";
  cfg.data_dir = dir.path();
  auto data = load_dataset(cfg);
  EXPECT_EQ(data.images.sizes(), (std::vector<int64_t>{2, 1, 32, 32}));
  EXPECT_EQ(data.images.slice(2, 0, 2).sum().item<int64_t>(), 0);  // padded rows are black
  auto raw = load_mnist(dir.path(), "train");
  EXPECT_TRUE(torch::equal(data.images.slice(2, 2, 30).slice(3, 2, 30), raw.images));
}

TEST(ImageFolder, ClassFoldersSortedAndImagesRead) {
  TempDir dir;
  std::filesystem::create_directories(dir / "zebra");
  std::filesystem::create_directories(dir / "apple");
  auto img = torch::full({3, 8, 8}, 200, torch::kUInt8);
  write_png(dir / "zebra/a.png", img);
  write_png(dir / "zebra/b.png", img);
  write_png(dir / "apple/c.png", torch::zeros({3, 8, 8}, torch::kUInt8));
  auto data = load_image_folder(dir.path(), 8, "crop");
  ASSERT_EQ(data.size(), 3);
  EXPECT_EQ(data.class_names, (std::vector<std::string>{"apple", "zebra"}));
  EXPECT_EQ(data.labels[0].item<int64_t>(), 0);
  EXPECT_EQ(data.labels[2].item<int64_t>(), 1);
  EXPECT_EQ(data.images[2].max().item<int>(), 200);
  EXPECT_EQ(data.images[0].max().item<int>(), 0);
}

TEST(ImageFolder, FlatFolderIsUnconditionalAndResized) {
  TempDir dir;
  write_png(dir / "one.png", torch::full({3, 20, 40}, 100, torch::kUInt8));
  auto data = load_image_folder(dir.path(), 16, "crop");
  EXPECT_EQ(data.num_classes(), 0);
  EXPECT_EQ(data.images.sizes(), (std::vector<int64_t>{1, 3, 16, 16}));
  EXPECT_EQ(data.images.min().item<int>(), 100);
  EXPECT_EQ(data.images.max().item<int>(), 100);
}

TEST(ImageFolder, EmptyFolderAndCorruptImageAreErrors) {
  TempDir dir;
  EXPECT_NE(error_of([&] { load_image_folder(dir.path(), 8, "crop"); }).find("no .png"),
            std::string::npos);
  flowlab::testing::write_text(dir / "broken.png", "this is not a png");
  auto msg = error_of([&] { load_image_folder(dir.path(), 8, "crop"); });
  EXPECT_NE(msg.find("broken.png"), std::string::npos) << msg;
}

TEST(Shapes, DeterministicBalancedAndSeedDependent) {
  auto a = make_shapes(50, 16, 3);
  auto b = make_shapes(50, 16, 3);
  auto c = make_shapes(50, 16, 4);
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_FALSE(torch::equal(a.images, c.images));
  EXPECT_EQ(a.num_classes(), 10);
  EXPECT_EQ(a.class_counts(), std::vector<int64_t>(10, 5));
  EXPECT_EQ(a.images.sizes(), (std::vector<int64_t>{50, 3, 16, 16}));
  // Foreground is bright (>= 0.45 * 255) somewhere, background dark (<= 0.3 * 255) somewhere.
  for (int64_t i = 0; i < 50; ++i) {
    auto brightest = a.images[i].to(torch::kInt).sum(0).max().item<int>();
    auto darkest = a.images[i].to(torch::kInt).sum(0).min().item<int>();
    EXPECT_GE(brightest, 3 * 114) << i;
    EXPECT_LE(darkest, 3 * 77) << i;
  }
}

TEST(Batcher, EpochPermutationCoversTheSetAndDependsOnlyOnSeedAndEpoch) {
  auto data = make_shapes(40, 8, 0);
  Batcher a(data, 10, false, 5, torch::kCPU), b(data, 10, false, 5, torch::kCPU);
  std::vector<int64_t> seen;
  StepRandom rng;
  for (int64_t step = 0; step < 4; ++step) {
    auto batch = a.at_step(step, rng);
    for (int64_t i = 0; i < 10; ++i) seen.push_back(batch.labels[i].item<int64_t>());
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 3), 4);  // each class 4 times in one epoch
  // Jumping straight to step 6 (epoch 1) gives what stepping there would.
  auto direct = b.at_step(6, rng);
  a.at_step(5, rng);
  EXPECT_TRUE(torch::equal(direct.images, a.at_step(6, rng).images));
}

TEST(RandomFlip, ByDefaultTrainingMirrorsEveryDatasetButMnist) {
  auto data = tiny_dataset(8);  // the half, band, checker and corner images; only the band is symmetric
  auto originals = uint8_to_float(data.images.slice(0, 0, 4));
  auto mirrors = originals.flip({3});
  for (const std::string dataset : {"mnist", "cifar10", "shapes"}) {
    SCOPED_TRACE(dataset);
    TempDir dir;
    auto config = tiny_config(dir.path());
    config.data = DataConfig{};  // the defaults, as a command line without a recipe has them
    config.data.dataset = dataset;
    config.data.data_dir = "unused";  // the images are given
    config.data.image_size = 8;
    config.training.steps = 2;
    RecordingMethod method(make_method(config));
    Trainer(config, data, method).run();
    int64_t mirrored = 0;
    for (const auto& batch : method.images)
      for (int64_t i = 0; i < batch.size(0); ++i) {
        auto is_one_of = [&](const torch::Tensor& set) {
          return (set - batch[i]).abs().amax({1, 2, 3}).min().item<float>() == 0.0f;
        };
        bool original = is_one_of(originals);
        EXPECT_TRUE(original || is_one_of(mirrors));
        mirrored += !original;
      }
    if (dataset == "mnist")
      EXPECT_EQ(mirrored, 0);
    else
      EXPECT_GT(mirrored, 0);
  }
}
