// Multi-process training on c10d: the launcher variables, world-size-invariant random draws and
// batch shards, two Gloo ranks on loopback against one process, and a rank that dies.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "flowlab/data/batcher.h"
#include "flowlab/data/shapes.h"
#include "flowlab/dist/launch_env.h"
#include "flowlab/recipe.h"
#include "flowlab/step_random.h"
#include "flowlab/dist/world.h"
#include "flowlab/io/image.h"
#include "flowlab/training/checkpoint.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

dist::LaunchEnv env_of(std::map<std::string, std::string> vars) {
  return dist::launch_env([vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

// A port per test process, so suites running side by side do not meet each other.
int test_port(int offset) { return 20000 + static_cast<int>(::getpid() % 20000) * 2 + offset; }

// The quickstart recipe cut to seconds: 16 images per global step, constant learning rate.
std::vector<std::string> small_run(const std::string& dir, int64_t steps) {
  return {app("train_cfm"), "--config", std::string(FLOWLAB_CONFIGS_DIR) + "/quickstart.yaml",
          "--output_dir", dir, "--steps", std::to_string(steps), "--batch_size", "16",
          "--threads", "1", "--set", "data.num_images=64", "--set", "training.sample_every=0",
          "--set", "training.log_every=1", "--set", "model.base_channels=8",
          "--set", "scheduler.type=constant", "--set", "scheduler.warmup_steps=0"};
}

std::vector<std::string> rank_env(int rank, int world, int port) {
  return {"RANK=" + std::to_string(rank), "WORLD_SIZE=" + std::to_string(world),
          "LOCAL_RANK=" + std::to_string(rank), "MASTER_ADDR=127.0.0.1",
          "MASTER_PORT=" + std::to_string(port)};
}

std::vector<torch::Tensor> trained_weights(const std::string& checkpoint) {
  CheckpointReader reader(checkpoint);
  auto model = make_backbone(reader.config());
  reader.load_weights(*model, false);
  std::vector<torch::Tensor> weights;
  for (const auto& p : model->parameters()) weights.push_back(p.detach().flatten());
  return weights;
}

// |a - b| element by element over every parameter.
torch::Tensor weight_differences(const std::string& a, const std::string& b) {
  auto wa = trained_weights(a), wb = trained_weights(b);
  EXPECT_EQ(wa.size(), wb.size());
  return (torch::cat(wa) - torch::cat(wb)).abs();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(LaunchEnv, NoVariablesIsOneProcess) {
  auto env = env_of({});
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.rank, 0);
  EXPECT_EQ(env.launcher, "");
  EXPECT_EQ(env_of({{"RANK", "0"}, {"WORLD_SIZE", "1"}}).world_size, 1);
}

TEST(LaunchEnv, ReadsTorchrunAndSlurmVariables) {
  auto torchrun = env_of({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"},
                          {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29555"},
                          {"TORCHELASTIC_RUN_ID", "x"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                          {"TORCHELASTIC_RESTART_COUNT", "2"}});
  EXPECT_EQ(torchrun.rank, 3);
  EXPECT_EQ(torchrun.world_size, 4);
  EXPECT_EQ(torchrun.local_rank, 1);
  EXPECT_EQ(torchrun.master_addr, "node7");
  EXPECT_EQ(torchrun.master_port, 29555);
  EXPECT_EQ(torchrun.launcher, "torchrun");
  EXPECT_TRUE(torchrun.agent_store);
  EXPECT_EQ(torchrun.restart_count, "2");

  auto slurm = env_of({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"},
                       {"MASTER_ADDR", "gpu01"}});
  EXPECT_EQ(slurm.rank, 5);
  EXPECT_EQ(slurm.world_size, 8);
  EXPECT_EQ(slurm.local_rank, 1);
  EXPECT_EQ(slurm.master_addr, "gpu01");
  EXPECT_EQ(slurm.master_port, 29500);
  EXPECT_EQ(slurm.launcher, "slurm");
  EXPECT_FALSE(slurm.agent_store);
}

TEST(LaunchEnv, BadValuesNameTheVariable) {
  EXPECT_NE(error_of([] { env_of({{"RANK", "1"}}); }).find("WORLD_SIZE is not"), std::string::npos);
  EXPECT_NE(error_of([] { env_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}}); }).find("not below the world size"),
            std::string::npos);
  EXPECT_NE(error_of([] { env_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}}); }).find("RANK='x'"),
            std::string::npos);
  EXPECT_NE(error_of([] { env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}); })
                .find("MASTER_PORT='70000'"),
            std::string::npos);
}

TEST(StepRandom, ShardsTogetherDrawWhatOneProcessDraws) {
  auto draw = [](BatchShard shard) {
    StepRandom rng(7, 12, shard);
    auto x = torch::zeros({shard.rows, 3, 2, 2});
    auto eps = rng.randn_like(x);
    auto u = rng.rand(shard.rows, torch::TensorOptions());
    auto shared = rng.shared([] { return torch::randint(1000, {3}, torch::kInt64); });
    auto after = torch::rand({4});  // what the network would draw next (dropout)
    return std::vector<torch::Tensor>{eps, u, shared, after};
  };
  auto one = draw({0, 8, 8}), first = draw({0, 4, 8}), second = draw({4, 4, 8});
  EXPECT_TRUE(torch::equal(torch::cat({first[0], second[0]}), one[0]));
  EXPECT_TRUE(torch::equal(torch::cat({first[1], second[1]}), one[1]));
  EXPECT_TRUE(torch::equal(first[2], second[2]));
  EXPECT_TRUE(torch::equal(first[2], one[2]));
  EXPECT_FALSE(torch::equal(first[3], second[3]));  // dropout masks differ between processes
  // Another step draws other numbers.
  StepRandom next(7, 13, {0, 8, 8});
  EXPECT_FALSE(torch::equal(next.randn_like(torch::zeros({8, 3, 2, 2})), one[0]));
}

TEST(Batcher, ShardsAreDisjointAndMakeUpTheGlobalBatch) {
  auto data = make_shapes(40, 8, 0);
  Batcher whole(data, 10, false, 3, torch::kCPU);
  Batcher a(data, 10, false, 3, torch::kCPU, {0, 5, 10}), b(data, 10, false, 3, torch::kCPU, {5, 5, 10});
  StepRandom rng;
  for (int64_t step : {0, 5}) {
    auto all = whole.at_step(step, rng);
    auto joined = torch::cat({a.at_step(step, rng).images, b.at_step(step, rng).images});
    EXPECT_TRUE(torch::equal(joined, all.images)) << step;
  }
  EXPECT_NE(error_of([&] { Batcher(data, 10, false, 3, torch::kCPU, {8, 5, 10}); }), "");
}

TEST(Distributed, TwoGlooRanksTrainLikeOneProcessWithTheSameGlobalBatch) {
  if (!dist::multi_process_supported()) GTEST_SKIP() << "this build has no c10d backend for CPU processes (Gloo)";
  TempDir dir;
  const int steps = 5;
  const double lr = 1e-3;  // the quickstart recipe's, held constant
  int port = test_port(0);
  std::vector<pid_t> ranks;
  for (int r = 0; r < 2; ++r)
    ranks.push_back(spawn(small_run(dir / "two", steps), dir / ("rank" + std::to_string(r) + ".log"),
                          rank_env(r, 2, port)));
  auto one = spawn(small_run(dir / "one", steps), dir / "one.log");
  // Two ranks again, each splitting its 8 rows into 2 micro-batches (one all-reduce per step).
  std::vector<pid_t> accumulating;
  for (int r = 0; r < 2; ++r) {
    auto args = small_run(dir / "accumulate", steps);
    args.insert(args.end(), {"--set", "training.accumulate=2"});
    accumulating.push_back(spawn(args, dir / ("acc" + std::to_string(r) + ".log"), rank_env(r, 2, test_port(1))));
  }
  // Control: one process with a single draw changed (no flips) must not pass the same check.
  auto args = small_run(dir / "control", steps);
  args.insert(args.end(), {"--set", "data.random_flip=false"});
  auto control = spawn(args, dir / "control.log");
  for (auto pid : ranks) ASSERT_EQ(wait_exit_code(pid), 0) << read_file(dir / "rank0.log") << read_file(dir / "rank1.log");
  ASSERT_EQ(wait_exit_code(one), 0) << read_file(dir / "one.log");
  ASSERT_EQ(wait_exit_code(control), 0) << read_file(dir / "control.log");
  for (auto pid : accumulating)
    ASSERT_EQ(wait_exit_code(pid), 0) << read_file(dir / "acc0.log") << read_file(dir / "acc1.log");

  // Only rank 0 writes; the checkpoint holds the weights every rank has (broadcast start,
  // averaged gradients, the same optimizer steps).
  EXPECT_EQ(sum_of_field(dir / "two/metrics.jsonl", "records"), steps);
  EXPECT_EQ(sum_of_field(dir / "two/metrics.jsonl", "processes"), 2 * steps);

  // The same losses step by step, and the same weights: every element within 1e-5 except the few
  // whose gradient is at rounding level, which Adam's normalisation moves by up to 2 lr per step
  // whichever way the rounding fell (the sums over 16 rows and over 2 x 8 rows round differently).
  for (const std::string run : {"two", "accumulate"}) {
    std::ifstream a(dir / "one/metrics.jsonl"), b(dir / (run + "/metrics.jsonl"));
    std::string la, lb;
    int compared = 0;
    while (std::getline(a, la) && std::getline(b, lb)) {
      auto ra = nlohmann::json::parse(la), rb = nlohmann::json::parse(lb);
      EXPECT_NEAR(ra["loss"].get<double>(), rb["loss"].get<double>(), 1e-5 * ra["loss"].get<double>()) << run;
      EXPECT_NEAR(ra["grad_norm"].get<double>(), rb["grad_norm"].get<double>(),
                  1e-5 * ra["grad_norm"].get<double>()) << run;
      ++compared;
    }
    EXPECT_EQ(compared, steps) << run;
    auto diff = weight_differences(dir / "one/last.pt", dir / (run + "/last.pt"));
    double outside = (diff > 1e-5).to(torch::kDouble).mean().item<double>();
    EXPECT_LT(outside, 1e-3) << run << " max " << diff.max().item<double>();
    EXPECT_LE(diff.max().item<double>(), 2 * lr * steps) << run;
  }

  auto control_diff = weight_differences(dir / "one/last.pt", dir / "control/last.pt");
  EXPECT_GT((control_diff > 1e-5).to(torch::kDouble).mean().item<double>(), 0.1);
}

TEST(Distributed, ARankThatDiesStopsTheOtherWithinTheTimeout) {
  if (!dist::multi_process_supported()) GTEST_SKIP() << "this build has no c10d backend for CPU processes (Gloo)";
  TempDir dir;
  const int timeout = 20;
  auto args = small_run(dir / "run", 100000);
  args.insert(args.end(), {"--set", "distributed.timeout=" + std::to_string(timeout)});
  int port = test_port(1);
  auto rank0 = spawn(args, dir / "rank0.log", rank_env(0, 2, port));
  auto rank1 = spawn(args, dir / "rank1.log", rank_env(1, 2, port));
  for (int i = 0; i < 1200 && sum_of_field(dir / "run/metrics.jsonl", "records") < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_GE(sum_of_field(dir / "run/metrics.jsonl", "records"), 3) << read_file(dir / "rank0.log");
  ::kill(rank1, SIGKILL);
  auto killed = std::chrono::steady_clock::now();
  EXPECT_EQ(wait_exit_code(rank1), 128 + SIGKILL);
  int code = wait_exit_code(rank0);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  EXPECT_NE(code, 0);
  EXPECT_LT(seconds, timeout + 10);
  auto log = read_file(dir / "rank0.log");
  EXPECT_NE(log.find("another process of the job died or stopped responding"), std::string::npos) << log;
}

namespace {

// generate_samples of RUN/last.pt, 12 images, by two ranks and by one process: the same grid.
void expect_two_ranks_generate_like_one(const TempDir& dir, int port) {
  auto generate = [&](const std::string& out) {
    return std::vector<std::string>{app("generate_samples"), "--checkpoint", dir / "run/last.pt",
                                    "--num_samples", "12", "--batch_size", "4", "--steps", "3",
                                    "--threads", "1", "--output_dir", dir / out};
  };
  std::vector<pid_t> ranks;
  for (int r = 0; r < 2; ++r)
    ranks.push_back(spawn(generate("two"), dir / ("gen" + std::to_string(r) + ".log"), rank_env(r, 2, port)));
  auto one = spawn(generate("one"), dir / "one.log");
  for (auto pid : ranks) ASSERT_EQ(wait_exit_code(pid), 0) << read_file(dir / "gen0.log") << read_file(dir / "gen1.log");
  ASSERT_EQ(wait_exit_code(one), 0) << read_file(dir / "one.log");
  // Batch b's noise comes from (seed, b) whichever process makes it, and the images are gathered
  // in order: the same grid, byte for byte.
  auto grid = read_file(dir / "one/grid.png");
  EXPECT_GT(grid.size(), 100u);
  EXPECT_EQ(read_file(dir / "two/grid.png"), grid);
  EXPECT_NE(read_file(dir / "two/generation.json").find("\"processes\": 2"), std::string::npos);
}

}  // namespace

TEST(Distributed, TwoRanksGenerateTheImagesOneProcessGenerates) {
  if (!dist::multi_process_supported()) GTEST_SKIP() << "this build has no c10d backend for CPU processes (Gloo)";
  TempDir dir;
  ASSERT_EQ(wait_exit_code(spawn(small_run(dir / "run", 2), dir / "train.log")), 0) << read_file(dir / "train.log");
  expect_two_ranks_generate_like_one(dir, test_port(2));
}

TEST(Distributed, TwoRanksGenerateALatentModelsDecodedImagesOneProcessGenerates) {
  if (!dist::multi_process_supported()) GTEST_SKIP() << "this build has no c10d backend for CPU processes (Gloo)";
  TempDir dir;
  auto run = small_run(dir / "run", 2);
  run.insert(run.end(), {"--set", "model.vae=" + write_tiny_autoencoder(dir.path(), 16), "--set", "data.image_size=8"});
  ASSERT_EQ(wait_exit_code(spawn(run, dir / "train.log")), 0) << read_file(dir / "train.log");
  expect_two_ranks_generate_like_one(dir, test_port(5));
  // Two rows of decoded 16x16 images (8x8 latents would make a grid 22 pixels high).
  EXPECT_EQ(read_image(dir / "one/grid.png", 3).size(1), 2 + 2 * (16 + 2));
}

TEST(Distributed, TwoRanksWriteTheCouplingsOneProcessWrites) {
  if (!dist::multi_process_supported()) GTEST_SKIP() << "this build has no c10d backend for CPU processes (Gloo)";
  TempDir dir;
  ASSERT_EQ(wait_exit_code(spawn(small_run(dir / "run", 2), dir / "train.log")), 0) << read_file(dir / "train.log");
  auto couplings = [&](const std::string& out) {
    return std::vector<std::string>{app("generate_samples"), "--checkpoint", dir / "run/last.pt", "--num_samples",
                                    "10", "--batch_size", "3", "--steps", "2", "--threads", "1", "--couplings",
                                    dir / out};
  };
  int port = test_port(6);
  std::vector<pid_t> ranks;
  for (int r = 0; r < 2; ++r)
    ranks.push_back(spawn(couplings("two"), dir / ("pairs" + std::to_string(r) + ".log"), rank_env(r, 2, port)));
  auto one = spawn(couplings("one"), dir / "one.log");
  for (auto pid : ranks)
    ASSERT_EQ(wait_exit_code(pid), 0) << read_file(dir / "pairs0.log") << read_file(dir / "pairs1.log");
  ASSERT_EQ(wait_exit_code(one), 0) << read_file(dir / "one.log");
  // Rank 0 made parts 0 and 1 of the 4, rank 1 parts 2 and 3; the files are the ones one process writes.
  EXPECT_NE(read_file(dir / "pairs0.log").find("2 parts made now"), std::string::npos) << read_file(dir / "pairs0.log");
  for (const char* name : {"part-00000.npz", "part-00001.npz", "part-00002.npz", "part-00003.npz", "couplings.json"}) {
    auto expected = read_file(dir / (std::string("one/") + name));
    EXPECT_GT(expected.size(), 100u) << name;
    EXPECT_EQ(read_file(dir / (std::string("two/") + name)), expected) << name;
  }
}

TEST(Distributed, TwoRanksEncodeTheLatentsOneProcessEncodes) {
  if (!dist::multi_process_supported()) GTEST_SKIP() << "this build has no c10d backend for CPU processes (Gloo)";
  TempDir dir;
  write_tiny_autoencoder(dir.path(), 8);
  auto encode = [&](const std::string& out) {
    return std::vector<std::string>{app("encode_latents"), "--vae", dir / "vae.safetensors", "--image_size", "8",
                                    "--set", "data.num_images=10", "--shard_size", "3", "--batch_size", "2",
                                    "--flips", "--threads", "1", "--output", dir / out};
  };
  int port = test_port(4);
  std::vector<pid_t> ranks;
  for (int r = 0; r < 2; ++r)
    ranks.push_back(spawn(encode("two"), dir / ("enc" + std::to_string(r) + ".log"), rank_env(r, 2, port)));
  auto one = spawn(encode("one"), dir / "one.log");
  for (auto pid : ranks) ASSERT_EQ(wait_exit_code(pid), 0) << read_file(dir / "enc0.log") << read_file(dir / "enc1.log");
  ASSERT_EQ(wait_exit_code(one), 0) << read_file(dir / "one.log");
  // Rank 0 encoded shards 0 and 2 (6 of the 10 images), rank 1 shards 1 and 3; the files are the
  // ones one process writes.
  EXPECT_NE(read_file(dir / "enc0.log").find("(6 encoded by this process now"), std::string::npos)
      << read_file(dir / "enc0.log");
  for (const char* name : {"shard-00000.safetensors", "shard-00001.safetensors", "shard-00002.safetensors",
                           "shard-00003.safetensors", "latents.json"}) {
    auto expected = read_file(dir / (std::string("one/") + name));
    EXPECT_GT(expected.size(), 100u) << name;
    EXPECT_EQ(read_file(dir / (std::string("two/") + name)), expected) << name;
  }
}

TEST(Distributed, ACheckpointOfTwoRanksResumesInOneProcessAsIfNeverSplit) {
  if (!dist::multi_process_supported()) GTEST_SKIP() << "this build has no c10d backend for CPU processes (Gloo)";
  TempDir dir;
  int port = test_port(3);
  std::vector<pid_t> ranks;
  for (int r = 0; r < 2; ++r)
    ranks.push_back(spawn(small_run(dir / "split", 3), dir / ("rank" + std::to_string(r) + ".log"),
                          rank_env(r, 2, port)));
  auto straight = spawn(small_run(dir / "straight", 5), dir / "straight.log");
  for (auto pid : ranks) ASSERT_EQ(wait_exit_code(pid), 0) << read_file(dir / "rank0.log");
  ASSERT_EQ(wait_exit_code(straight), 0) << read_file(dir / "straight.log");
  auto resume = small_run(dir / "split", 5);
  resume.push_back("--resume");
  ASSERT_EQ(wait_exit_code(spawn(resume, dir / "resume.log")), 0) << read_file(dir / "resume.log");
  EXPECT_EQ(sum_of_field(dir / "split/metrics.jsonl", "records"), 5);
  auto diff = weight_differences(dir / "straight/last.pt", dir / "split/last.pt");
  EXPECT_LT((diff > 1e-5).to(torch::kDouble).mean().item<double>(), 1e-3) << "max " << diff.max().item<double>();
}

TEST(Distributed, AGlobalBatchThatDoesNotSplitIsOneLineOnEveryRank) {
  if (!dist::multi_process_supported()) GTEST_SKIP() << "this build has no c10d backend for CPU processes (Gloo)";
  TempDir dir;
  auto args = small_run(dir / "run", 2);
  args.insert(args.end(), {"--batch_size", "15"});
  int port = test_port(4);
  std::vector<pid_t> ranks;
  for (int r = 0; r < 2; ++r)
    ranks.push_back(spawn(args, dir / ("rank" + std::to_string(r) + ".log"), rank_env(r, 2, port)));
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(wait_exit_code(ranks[r]), 1);
    auto log = read_file(dir / ("rank" + std::to_string(r) + ".log"));
    EXPECT_NE(log.find("error: training.batch_size = 15 (the global batch) does not split evenly over 2 "
                       "processes"), std::string::npos) << log;
  }
}
