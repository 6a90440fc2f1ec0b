// TensorBoard event files: CRC-32C against the iSCSI test vectors, and a short training run's
// file read back by an independent reader (scripts/checks/read_tensorboard.py: Google's protobuf runtime
// and the crc32c package), which must find every figure of metrics.jsonl and every sample grid.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "flowlab/io/files.h"
#include "flowlab/io/image.h"
#include "flowlab/io/tfrecord.h"
#include "flowlab/methods/registry.h"
#include "flowlab/training/trainer.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

std::string reader() { return std::string(FLOWLAB_FIXTURES_DIR) + "/../../scripts/checks/read_tensorboard.py"; }

bool reader_runs() {
  return run_command("/usr/bin/python3 -c 'import google.protobuf, crc32c' && protoc --version").exit_code == 0;
}

std::string only_event_file(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) files.push_back(entry.path());
  EXPECT_EQ(files.size(), 1u);
  EXPECT_NE(files.at(0).find("/events.out.tfevents."), std::string::npos);
  return files.at(0);
}

}  // namespace

TEST(TensorBoard, Crc32cMatchesTheIscsiTestVectors) {
  // RFC 3720, B.4, and the usual check value.
  std::string digits = "123456789";
  EXPECT_EQ(crc32c(digits.data(), digits.size()), 0xE3069283u);
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF), ascending(32);
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(ascending.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
}

TEST(TensorBoard, AnIndependentReaderFindsEveryLoggedFigureAndGrid) {
  if (!reader_runs())
    GTEST_SKIP() << "the reader needs /usr/bin/python3 with python3-protobuf and python3-crc32c, "
                    "and protoc (scripts/setup.sh installs them)";
  TempDir dir;
  ensure_directory(dir / "real");
  for (int64_t k = 0; k < 4; ++k)
    write_png(dir / ("real/" + std::to_string(k) + ".png"), float_to_uint8(class_images()[k]));
  auto config = tiny_meanflow_config(dir / "run");  // MeanFlow logs its raw MSE beside the loss
  config.training.steps = 4;
  config.training.batch_size = 8;
  config.training.log_every = 1;
  config.training.sample_every = 2;
  config.training.eval_every = 4;
  config.training.tensorboard = true;
  config.eval.num_samples = 6;
  config.eval.steps = 2;
  config.eval.inception_weights = "random";
  config.eval.reference = dir / "real";
  auto method = make_method(config);
  auto data = tiny_dataset(8);
  Trainer(config, data, *method).run("", 0);

  auto event_file = only_event_file(dir / "run/tensorboard");
  auto read = run_command("/usr/bin/python3 " + reader() + " " + event_file);
  ASSERT_EQ(read.exit_code, 0) << read.output;
  auto events = nlohmann::json::parse(read.output);
  EXPECT_EQ(events["file_version"], "brain.Event:2");
  const auto& scalars = events["scalars"];

  // Every number of every metrics.jsonl record, at its step, as float32.
  std::map<std::string, size_t> expected_points;
  std::ifstream metrics(dir / "run/metrics.jsonl");
  std::string line;
  size_t records = 0;
  while (std::getline(metrics, line)) {
    auto record = nlohmann::json::parse(line);
    ++records;
    std::string prefix = record.contains("fid") ? "eval/" : "train/";
    int64_t step = record["step"].get<int64_t>();
    for (const auto& item : record.items()) {
      if (item.key() == "step" || item.key() == "processes" || !item.value().is_number()) continue;
      std::string tag = prefix + item.key();
      ASSERT_TRUE(scalars.contains(tag)) << tag;
      size_t k = expected_points[tag]++;
      ASSERT_LT(k, scalars[tag].size()) << tag;
      EXPECT_EQ(scalars[tag][k][0].get<int64_t>(), step) << tag;
      double logged = item.value().get<double>();
      EXPECT_NEAR(scalars[tag][k][1].get<double>(), static_cast<float>(logged), 1e-6 * std::abs(logged))
          << tag << " at step " << step;
    }
  }
  EXPECT_EQ(records, 5u);  // four steps and one evaluation
  for (const auto& tag : {"train/loss", "train/lr", "train/grad_norm", "train/images_per_sec",
                          "train/skipped_steps", "train/mse", "eval/fid"})
    EXPECT_EQ(expected_points[tag], tag[0] == 'e' ? 1u : 4u) << tag;
  for (const auto& [tag, points] : scalars.items()) EXPECT_EQ(points.size(), expected_points[tag]) << tag;

  // The grid at step 2 and the final one, each the size of its PNG.
  const auto& grids = events["images"]["samples"];
  ASSERT_EQ(grids.size(), 2u);
  EXPECT_EQ(grids[0][0], 2);
  EXPECT_EQ(grids[1][0], 4);
  auto png = read_image(dir / "run/samples/final.png", 3);
  EXPECT_EQ(grids[1][1].get<int64_t>(), png.size(2));
  EXPECT_EQ(grids[1][2].get<int64_t>(), png.size(1));
  EXPECT_EQ(grids[1][3], 3);

  // The reader checks every CRC: one flipped byte of data is found.
  auto bytes = read_file_bytes(event_file);
  bytes[bytes.size() / 2] ^= 0x40;
  std::ofstream(dir / "broken", std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto broken = run_command("/usr/bin/python3 " + reader() + " " + dir / "broken");
  EXPECT_NE(broken.exit_code, 0);
  EXPECT_NE(broken.output.find("CRC mismatch"), std::string::npos) << broken.output;
}
