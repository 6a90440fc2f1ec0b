// The apps on bad input: every case runs the real binary and must give a non-zero exit, one line
// naming the problem, no stack trace or abort, and no partial output file.
#include <gtest/gtest.h>

#include <future>

#include "flowlab/io/image.h"
#include "flowlab/io/npz.h"
#include "flowlab/methods/registry.h"
#include "flowlab/sampling/sde_sampler.h"
#include "flowlab/sampling/time_grids.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/trainer.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

int line_count(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

struct BadInput {
  std::string what;      // the case, for failure messages
  std::string command;   // app and arguments
  std::string expected;  // text the one line must contain
  std::string must_not_exist;  // an output the app must not have left behind ("" = none)
};

void expect_one_line_error(const BadInput& c, const CommandResult& r) {
  SCOPED_TRACE(c.what);
  EXPECT_NE(r.exit_code, 0) << c.command;
  EXPECT_EQ(line_count(r.output), 1) << c.command << "\n" << r.output;
  EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.command << "\n" << r.output;
  for (const char* crash : {"Exception raised from", "terminate called", "Aborted", "Segmentation"})
    EXPECT_EQ(r.output.find(crash), std::string::npos) << r.output;
  if (!c.must_not_exist.empty()) EXPECT_FALSE(std::filesystem::exists(c.must_not_exist)) << c.must_not_exist;
}

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<uint8_t> big_endian(std::initializer_list<uint32_t> words) {
  std::vector<uint8_t> out;
  for (uint32_t w : words)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(w >> shift));
  return out;
}

std::string train_checkpoint(const std::string& dir, const std::string& method_name) {
  auto data = tiny_dataset(8);
  auto config = tiny_config(dir);
  config.training.steps = 1;
  config.method.name = method_name;
  if (method_name == "ddpm") config.sampling.sampler = "ddpm";
  auto method = make_method(config);
  Trainer trainer(config, data, *method);
  return trainer.run().checkpoint;
}

}  // namespace

TEST(Cli, HelpListsFlagsAndConfigKeys) {
  auto r = run_command(app("train_cfm") + " --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* s : {"--epochs", "--batch_size", "--lr", "--cfg_dropout", "--output_dir",
                        "--resume", "--set", "training:", "sampling:"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s;
}

// Every registered sampler, time grid and SDE form has its help line in generate_samples --help,
// read from the registries, so a new entry cannot go unlisted.
TEST(Cli, GenerateHelpListsEveryRegisteredSamplerGridAndSdeForm) {
  auto r = run_command(app("generate_samples") + " --help");
  EXPECT_EQ(r.exit_code, 0);
  auto listed = [&](const std::string& name, const std::string& help) {
    EXPECT_FALSE(help.empty()) << name << " has no help line";
    EXPECT_NE(r.output.find("  " + name + " "), std::string::npos) << name;
    EXPECT_NE(r.output.find(help), std::string::npos) << name;
  };
  for (const auto& method : method_entries()) {
    EXPECT_FALSE(method.samplers.empty()) << method.name;
    if (method.name == "vae") continue;  // an autoencoder reconstructs; generate_samples refuses it
    for (const auto& sampler : method.samplers) listed(sampler.name, sampler.help);
  }
  for (const auto& grid : time_grids()) listed(grid.name, grid.help);
  for (const auto& form : sde_diffusions()) listed(form.name, form.help);
}

TEST(Cli, EveryBadInputIsOneClearLine) {
  TempDir d;
  auto out = d / "out";  // no case may create it
  auto train = app("train_cfm") + " --output_dir " + out + " --steps 1 ";
  auto generate = app("generate_samples") + " --output_dir " + out + " --num_samples 2 --checkpoint ";

  // Datasets.
  std::filesystem::create_directories(d / "cifar");
  for (int f = 1; f <= 5; ++f)
    write_bytes(d / ("cifar/data_batch_" + std::to_string(f) + ".bin"), std::vector<uint8_t>(3073 * 2, 1));
  write_bytes(d / "cifar/data_batch_2.bin", std::vector<uint8_t>(3073 + 5, 1));
  std::filesystem::create_directories(d / "mnist_magic");
  auto header = big_endian({2049, 2, 28, 28});  // the labels' magic on an images file
  write_bytes(d / "mnist_magic/train-images-idx3-ubyte", header);
  write_bytes(d / "mnist_magic/train-labels-idx1-ubyte", big_endian({2049, 2}));
  std::filesystem::create_directories(d / "mnist_short");
  auto images = big_endian({2051, 2, 28, 28});
  images.resize(images.size() + 100);  // 2 images need 1568 bytes
  write_bytes(d / "mnist_short/train-images-idx3-ubyte", images);
  write_bytes(d / "mnist_short/train-labels-idx1-ubyte", big_endian({2049, 2}));
  std::filesystem::create_directories(d / "empty");
  std::filesystem::create_directories(d / "not_images/cat");
  write_text(d / "not_images/cat/a.png", "these are words, not pixels");
  std::filesystem::create_directories(d / "corrupt/cat");
  write_png(d / "whole.png", torch::zeros({3, 16, 16}, torch::kUInt8));
  auto png = file_bytes(d / "whole.png");
  write_bytes(d / "corrupt/cat/a.png", std::vector<uint8_t>(png.begin(), png.begin() + png.size() / 2));
  std::filesystem::create_directories(d / "images");
  write_png(d / "images/a.png", torch::zeros({3, 16, 16}, torch::kUInt8));

  // Configs.
  write_text(d / "unknown_key.yaml", "training:\n  epoch: 3\n");
  write_text(d / "wrong_type.yaml", "training:\n  batch_size: ten\n");

  // Checkpoints.
  auto cfm = train_checkpoint(d / "cfm_run", "cfm");
  auto ddpm = train_checkpoint(d / "ddpm_run", "ddpm");
  auto bytes = file_bytes(cfm);
  write_bytes(d / "truncated.pt", std::vector<uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2));
  std::vector<uint8_t> noise(5000);
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<uint8_t>(i * 7919 % 251);
  write_bytes(d / "random.pt", noise);
  torch::serialize::OutputArchive future;
  future.write("format_version", torch::tensor(int64_t{99}));
  future.save_to(d / "newer.pt");

  // Files.
  c10::Dict<std::string, torch::Tensor> weights;
  weights.insert("Conv2d_1a_3x3.conv.weight", torch::zeros({32, 3, 5, 5}));
  auto pickled = torch::pickle_save(c10::IValue(weights));
  write_bytes(d / "inception_wrong.pt", std::vector<uint8_t>(pickled.begin(), pickled.end()));
  write_npz(d / "no_mu.npz", {{"features", torch::zeros({4, 8})}});
  write_npy(d / "noise_3x16x16.npy", torch::zeros({2, 3, 16, 16}));  // the checkpoints sample 3x8x8
  write_npy(d / "noise.npy", torch::zeros({2, 3, 8, 8}));
  write_npy(d / "labels_5.npy", torch::zeros({5}, torch::kInt64));
  write_text(d / "a_file", "x");
  auto fid = app("evaluate_fid") + " --output " + (d / "fid.json") + " ";

  std::vector<BadInput> cases = {
      {"missing CIFAR directory", train + "--dataset cifar10 --data_dir " + (d / "nowhere"), "does not exist", out},
      {"truncated CIFAR file", train + "--dataset cifar10 --data_dir " + (d / "cifar"), "data_batch_2.bin", out},
      {"wrong IDX magic", train + "--dataset mnist --data_dir " + (d / "mnist_magic"), "magic number", out},
      {"truncated IDX", train + "--dataset mnist --data_dir " + (d / "mnist_short"), "train-images-idx3-ubyte", out},
      {"empty image folder", train + "--dataset folder --data_dir " + (d / "empty"), "no .png", out},
      {"non-image file", train + "--dataset folder --data_dir " + (d / "not_images"), "a.png", out},
      {"corrupt PNG", train + "--dataset folder --data_dir " + (d / "corrupt"), "a.png", out},
      {"unknown config key", train + "--config " + (d / "unknown_key.yaml"), "unknown key 'training.epoch'", out},
      {"wrong config type", train + "--config " + (d / "wrong_type.yaml"), "training.batch_size", out},
      {"negative lr", train + "--lr -1e-3", "training.lr", out},
      {"batch size 0", train + "--batch_size 0", "training.batch_size", out},
      {"flag of the wrong type", train + "--batch_size ten", "training.batch_size", out},
      {"random_flip not auto, true or false", train + "--random_flip maybe",
       "data.random_flip = maybe: must be one of: auto true false", out},
      {"unknown precision", train + "--precision fp16", "compute.precision = fp16: must be one of: fp32 bf16", out},
      {"unknown MeanFlow JVP pass", train + "--set meanflow.jvp_pass=both",
       "meanflow.jvp_pass = both: must be one of: separate fused", out},
      {"channels_last not a bool", generate + cfm + " --channels_last maybe", "compute.channels_last", out},
      {"unknown flag", train + "--no_such_flag", "no_such_flag", out},
      {"channel_mults against image size", train + "--set data.image_size=12 --set model.channel_mults=[1,2,2,2]",
       "divisible by 8", out},
      {"DiT patch not dividing the image", train + "--model dit --variant DiT-S/4 --set data.image_size=18",
       "does not divide", out},
      {"missing --checkpoint (generate)", app("generate_samples"), "--checkpoint is required", ""},
      {"missing --checkpoint (inpaint)", app("inpaint") + " evaluate", "--checkpoint is required", ""},
      {"missing --checkpoint (evaluate)", app("evaluate_fid"), "exactly one of --checkpoint", ""},
      {"missing checkpoint file", generate + (d / "absent.pt"), "does not exist", out},
      {"truncated checkpoint", generate + (d / "truncated.pt"), "not a readable checkpoint", out},
      {"random bytes as checkpoint", generate + (d / "random.pt"), "not a readable checkpoint", out},
      {"newer checkpoint format", generate + (d / "newer.pt"), "newer than this build", out},
      {"checkpoint of another method", generate + cfm + " --model ddpm", "ddpm", out},
      {"resume from another method", app("train_ddpm") + " --output_dir " + out + " --resume=" + cfm,
       "train_ddpm trains ddpm; use train_cfm", out},
      {"resume with a space", app("train_cfm") + " --output_dir " + out + " --resume " + cfm,
       "--resume=CKPT", out},
      {"inpainting fine-tuning of a DDPM checkpoint",
       app("inpaint") + " finetune --output_dir " + out + " --pretrained " + ddpm, "works on CFM checkpoints", out},
      {"missing Inception weights", fid + "--images " + (d / "corrupt") + " --reference " + (d / "no_mu.npz") +
           " --inception_weights " + (d / "absent.pt"), "convert_inception_weights.py", d / "fid.json"},
      {"wrong-shaped Inception weights", fid + "--images " + (d / "corrupt") + " --reference " + (d / "no_mu.npz") +
           " --inception_weights " + (d / "inception_wrong.pt"), "Conv2d_1a_3x3", d / "fid.json"},
      {"npz without mu and sigma", fid + "--images " + (d / "images") + " --random_weights --reference " +
           (d / "no_mu.npz"), "mu", d / "fid.json"},
      {"output directory under a file", app("train_cfm") + " --steps 1 --output_dir " + (d / "a_file/run"),
       "a_file is not a directory", ""},
      {"unknown inpaint subcommand", app("inpaint") + " paint", "unknown subcommand 'paint'", ""},
      {"unknown benchmark part", app("benchmark") + " --suite train,speed --output " + (d / "b.json"),
       "--suite speed", d / "b.json"},
      {"benchmark of an unknown method", app("benchmark") + " --methods cfm,gan", "gan", ""},
      {"noise of another shape", generate + cfm + " --noise " + (d / "noise_3x16x16.npy"), "the model samples float32 (N, 3, 8, 8)", out},
      {"labels of another length", generate + cfm + " --noise " + (d / "noise.npy") + " --labels " +
           (d / "labels_5.npy"), "2 samples need int64 (2,)", out},
      {"import of a text file", app("import_checkpoint") + " --format dit --weights " + (d / "a_file") +
           " --output " + (d / "imported.pt"), "not a torch.save file", d / "imported.pt"},
      {"import in an unknown format", app("import_checkpoint") + " --format ldm --weights " + (d / "a_file") +
           " --output " + (d / "imported.pt"), "use dit, sit or repa", d / "imported.pt"},
  };
  if (!torch::cuda::is_available())
    cases.push_back({"--device cuda without CUDA", train + "--device cuda", "--device cuda", out});
  // Four at a time: each case is a process that spends most of its time loading LibTorch.
  for (size_t start = 0; start < cases.size(); start += 4) {
    std::vector<std::future<CommandResult>> running;
    for (size_t i = start; i < std::min(cases.size(), start + 4); ++i)
      running.push_back(std::async(std::launch::async, run_command, cases[i].command));
    for (size_t i = start; i < std::min(cases.size(), start + 4); ++i)
      expect_one_line_error(cases[i], running[i - start].get());
  }
}

TEST(Cli, OneRecipeTrainsEveryMethodAndEachSamplesWithItsOwnSampler) {
  TempDir d;
  for (const std::string method : {"ddpm", "meanflow"}) {
    SCOPED_TRACE(method);
    auto run = d / method;
    auto trained = train_quickstart("train_" + method, run, 2);
    ASSERT_EQ(trained.exit_code, 0) << trained.output;
    EXPECT_NE(trained.output.find("method.name is cfm in the recipe; this program trains " + method),
              std::string::npos) << trained.output;
    auto sampled = run_command(app("generate_samples") + " --checkpoint " + run + "/last.pt" +
                               " --num_samples 2 --threads 1 --output_dir " + run + "/samples");
    ASSERT_EQ(sampled.exit_code, 0) << sampled.output;
    EXPECT_NE(sampled.output.find("sampler " + method), std::string::npos) << sampled.output;
  }
}

TEST(Cli, GenerateWritesTheSamplesAsTheAdmEvaluationSuiteReadsThem) {
  TempDir d;
  auto run = d / "run";
  auto trained = train_quickstart("train_cfm", run, 2);
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  auto sampled = run_command(app("generate_samples") + " --checkpoint " + run + "/last.pt" +
                             " --num_samples 6 --steps 2 --threads 1 --save_individual --npz " + d / "samples.npz" +
                             " --output_dir " + d / "samples");
  ASSERT_EQ(sampled.exit_code, 0) << sampled.output;
  auto arrays = read_npz(d / "samples.npz");
  ASSERT_EQ(arrays["arr_0"].scalar_type(), torch::kUInt8);
  ASSERT_EQ(arrays["arr_0"].sizes(), (std::vector<int64_t>{6, 16, 16, 3}));
  for (int64_t i = 0; i < 6; ++i) {  // the PNGs, channels last
    auto png = read_image(d / ("samples/images/0000" + std::to_string(i) + ".png"), 3);
    EXPECT_TRUE(torch::equal(arrays["arr_0"][i], png.permute({1, 2, 0}))) << i;
  }
  auto classes = CheckpointReader(run + "/last.pt").config().model.num_classes;
  ASSERT_GT(classes, 0);
  EXPECT_TRUE(torch::equal(arrays["arr_1"], torch::arange(6, torch::kInt64) % classes));
  if (run_command("/usr/bin/python3 -c 'import numpy'").exit_code != 0)
    GTEST_SKIP() << "the numpy check needs /usr/bin/python3 with numpy (scripts/setup.sh installs it)";
  auto numpy = run_command("/usr/bin/python3 -c \"import numpy as np; d = np.load('" + d / "samples.npz" +
                           "'); a = d['arr_0']; print(a.dtype, a.shape, d['arr_1'].tolist())\"");
  EXPECT_EQ(numpy.exit_code, 0) << numpy.output;
  std::string labels;
  for (int64_t i = 0; i < 6; ++i) labels += (i ? ", " : "") + std::to_string(i % classes);
  EXPECT_NE(numpy.output.find("uint8 (6, 16, 16, 3) [" + labels + "]"), std::string::npos) << numpy.output;
}

// --noise and --labels fix what is sampled; --raw is the sampler's output on exactly that noise.
TEST(Cli, GivenNoiseAndLabelsGiveTheRawSamplesOfThatNoise) {
  TempDir d;
  // Random weights: every output depends on the noise and the class.
  const auto checkpoint = d / "random.pt";
  auto config = tiny_config(d.path());
  save_weights_checkpoint(checkpoint, config, named_weights(*random_model(config)));
  torch::manual_seed(5);
  auto noise = torch::randn({3, 3, 8, 8});
  auto labels = torch::tensor({0, 1, 3}, torch::kInt64);
  write_npy(d / "noise.npy", noise);
  write_npy(d / "labels.npy", labels);
  auto r = run_command(app("generate_samples") + " --checkpoint " + checkpoint + " --noise " + (d / "noise.npy") +
                       " --labels " + (d / "labels.npy") + " --raw " + (d / "raw.npy") + " --steps 5 --output_dir " +
                       (d / "out"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 images"), std::string::npos) << r.output;
  auto raw = read_npy(d / "raw.npy");

  CheckpointReader reader(checkpoint);
  config = reader.config();
  config.sampling.steps = 5;
  auto model = make_backbone(config);
  reader.load_weights(*model, true);
  model->eval();
  auto method = make_method(config);
  auto expected = method->sample(*model, noise, labels, config.sampling).x;
  EXPECT_TRUE(torch::allclose(raw, expected, 1e-5, 1e-6));
  auto other = method->sample(*model, noise, torch::tensor({2, 2, 2}, torch::kInt64), config.sampling).x;
  EXPECT_FALSE(torch::allclose(raw, other, 1e-5, 1e-6));  // the labels were used
}
