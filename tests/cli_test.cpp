// The apps on bad input: one clear line on stderr, a non-zero exit, no stack trace.
#include <gtest/gtest.h>

#include "test_helpers.h"

using namespace flowlab::testing;

namespace {

int line_count(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

void expect_one_line_error(const std::string& command, const std::string& expected) {
  auto r = run_command(command);
  EXPECT_NE(r.exit_code, 0) << command;
  EXPECT_EQ(line_count(r.output), 1) << command << "\n" << r.output;
  EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Exception raised from"), std::string::npos) << r.output;
}

}  // namespace

TEST(Cli, TruncatedCifarFileIsOneLine) {
  TempDir dir;
  for (int f = 1; f <= 5; ++f)
    write_bytes(dir / ("data_batch_" + std::to_string(f) + ".bin"), std::vector<uint8_t>(3073 * 2, 1));
  write_bytes(dir / "data_batch_2.bin", std::vector<uint8_t>(3073 + 5, 1));
  expect_one_line_error(app("show_dataset") + " --dataset cifar10 --data_dir " + dir.path() +
                            " --grid " + (dir / "g.png"),
                        "data_batch_2.bin");
  EXPECT_FALSE(std::filesystem::exists(dir / "g.png"));
}

TEST(Cli, WrongConfigKeyIsOneLine) {
  TempDir dir;
  write_text(dir / "c.yaml", "training:\n  epoch: 3\n");
  expect_one_line_error(app("train_cfm") + " --config " + (dir / "c.yaml") + " --output_dir " +
                            (dir / "out"),
                        "unknown key 'training.epoch'");
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
  expect_one_line_error(app("train_cfm") + " --set training.lr=-1 --output_dir " + (dir / "out"),
                        "training.lr");
  expect_one_line_error(app("train_cfm") + " --batch_size ten", "training.batch_size");
  expect_one_line_error(app("train_cfm") + " --no_such_flag", "no_such_flag");
}

TEST(Cli, GenerateNeedsAReadableCheckpoint) {
  TempDir dir;
  expect_one_line_error(app("generate_samples"), "--checkpoint is required");
  write_text(dir / "junk.pt", "junk");
  expect_one_line_error(app("generate_samples") + " --checkpoint " + (dir / "junk.pt") +
                            " --output_dir " + (dir / "s"),
                        "not a readable checkpoint");
  EXPECT_FALSE(std::filesystem::exists(dir / "s"));
}

TEST(Cli, CudaOnACpuBuildIsOneLine) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA present";
  TempDir dir;
  expect_one_line_error(app("train_cfm") + " --device cuda --steps 1 --set data.num_images=64 " +
                            "--output_dir " + (dir / "out"),
                        "--device cuda");
}

TEST(Cli, HelpListsFlagsAndConfigKeys) {
  auto r = run_command(app("train_cfm") + " --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* s : {"--epochs", "--batch_size", "--lr", "--cfg_dropout", "--output_dir",
                        "--resume", "--set", "training:", "sampling:"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s;
}

TEST(Cli, EvaluateFidBadInputsAreOneLine) {
  TempDir dir;
  expect_one_line_error(app("evaluate_fid"), "exactly one of --checkpoint");
  expect_one_line_error(app("evaluate_fid") + " --images " + (dir / "none") + " --reference " +
                            (dir / "none") + " --inception_weights " + (dir / "missing.pt") +
                            " --output " + (dir / "r.json"),
                        "convert_inception_weights.py");
  write_text(dir / "stats.npz", "PK not really");
  expect_one_line_error(app("evaluate_fid") + " --images " + (dir / "none") + " --reference " +
                            (dir / "stats.npz") + " --random_weights --output " + (dir / "r.json"),
                        "stats.npz");
  EXPECT_FALSE(std::filesystem::exists(dir / "r.json"));
}

TEST(Cli, InpaintBadInputsAreOneLine) {
  expect_one_line_error(app("inpaint") + " paint", "unknown subcommand 'paint'");
  expect_one_line_error(app("inpaint") + " evaluate", "--checkpoint is required");
}
