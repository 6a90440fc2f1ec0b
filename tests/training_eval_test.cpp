// Evaluation while training: the FIDs logged every eval_every steps, best.pt the lowest one's
// state, a training run with evaluation equal to one without, and a resumed run continuing the
// schedule with the same scores.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "flowlab/io/files.h"
#include "flowlab/io/image.h"
#include "flowlab/methods/registry.h"
#include "flowlab/recipe.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/trainer.h"
#include "flowlab/training/training_eval.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

// tiny_config as DDPM (whose ancestral sampler draws from the global generator, as dropout does
// in training), 4 steps scored every 2 with hashed Inception weights on 6 samples against the four
// class images; `eval_every` 0 = off.
Config evaluated_config(const TempDir& dir, const std::string& run, int64_t eval_every) {
  auto config = for_method(tiny_config(dir / run), "ddpm", false);
  config.training.steps = 4;
  config.training.batch_size = 8;
  config.training.log_every = 1;
  config.training.eval_every = eval_every;
  config.eval.num_samples = 6;
  config.eval.steps = 2;
  config.eval.inception_weights = "random";
  config.eval.reference = dir / "real";
  config.model.dropout = 0.1;  // a draw from the global generator on every step
  return config;
}

TrainResult train(const Config& config, int64_t stop_at = 0, bool resume = false) {
  auto method = make_method(config);
  auto data = tiny_dataset(8);  // the trainer keeps a reference
  torch::manual_seed(0);
  Trainer trainer(config, data, *method);
  return trainer.run(resume ? config.training.output_dir + "/last.pt" : "", stop_at);
}

// (step, fid) of every evaluation record.
std::vector<std::pair<int64_t, double>> logged_fids(const std::string& metrics) {
  std::vector<std::pair<int64_t, double>> out;
  std::ifstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    auto record = nlohmann::json::parse(line);
    if (record.contains("fid")) out.emplace_back(record["step"].get<int64_t>(), record["fid"].get<double>());
  }
  return out;
}

bool same_weights(const std::string& a, const std::string& b) {
  CheckpointReader ra(a), rb(b);
  auto ma = make_backbone(ra.config()), mb = make_backbone(rb.config());
  ra.load_weights(*ma, false);
  rb.load_weights(*mb, false);
  auto pa = ma->parameters(), pb = mb->parameters();
  for (size_t i = 0; i < pa.size(); ++i)
    if (!torch::equal(pa[i], pb[i])) return false;
  return true;
}

}  // namespace

TEST(TrainingEval, FidsEveryFewStepsBestCheckpointAndTheTrainingUnchanged) {
  TempDir dir;
  ensure_directory(dir / "real");
  for (int64_t k = 0; k < 4; ++k)
    write_png(dir / ("real/" + std::to_string(k) + ".png"), float_to_uint8(class_images()[k]));
  train(evaluated_config(dir, "plain", 0));
  // The evaluated run keeps a second EMA: "fid" stays the first one's, the other gets fid_ema_0.1.
  auto evaluated = evaluated_config(dir, "evaluated", 2);
  evaluated.training.ema_decays = {evaluated.training.ema_decay, 0.1};  // 0.1: below 4 steps' warm-up decays
  train(evaluated);
  EXPECT_TRUE(same_weights(dir / "plain/last.pt", dir / "evaluated/last.pt"));
  auto fids = logged_fids(dir / "evaluated/metrics.jsonl");
  ASSERT_EQ(fids.size(), 2u);
  EXPECT_EQ(fids[0].first, 2);
  EXPECT_EQ(fids[1].first, 4);
  for (const auto& [step, fid] : fids) EXPECT_TRUE(std::isfinite(fid) && fid > 0) << step;
  EXPECT_TRUE(logged_fids(dir / "plain/metrics.jsonl").empty());
  EXPECT_FALSE(std::filesystem::exists(dir / "plain/best.pt"));
  // best.pt is the state at the step of the lowest FID.
  auto best = *std::min_element(fids.begin(), fids.end(),
                                [](const auto& a, const auto& b) { return a.second < b.second; });
  EXPECT_EQ(CheckpointReader(dir / "evaluated/best.pt").step(), best.first);
  EXPECT_EQ(best_logged_fid(dir / "evaluated/metrics.jsonl", 4), best.second);
  EXPECT_EQ(best_logged_fid(dir / "evaluated/metrics.jsonl", 3), fids[0].second);

  // Stopped at step 2 and resumed: the evaluation at 4 still comes, with the same score, and
  // best.pt is again the lower of the two.
  auto resumed = evaluated_config(dir, "resumed", 2);
  train(resumed, 2);
  train(resumed, 0, true);
  auto again = logged_fids(dir / "resumed/metrics.jsonl");
  ASSERT_EQ(again.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(again[i].first, fids[i].first);
    EXPECT_NEAR(again[i].second, fids[i].second, 1e-6 * fids[i].second);
  }
  EXPECT_EQ(CheckpointReader(dir / "resumed/best.pt").step(), best.first);
  // The second EMA was scored beside the first, on the same noise.
  std::ifstream records(dir / "evaluated/metrics.jsonl");
  int scored = 0;
  for (std::string line; std::getline(records, line);) {
    auto record = nlohmann::json::parse(line);
    if (!record.contains("fid")) continue;
    ASSERT_TRUE(record.contains("fid_ema_0.1")) << record.dump();
    EXPECT_NE(record["fid_ema_0.1"].get<double>(), record["fid"].get<double>());
    ++scored;
  }
  EXPECT_EQ(scored, 2);
  // A run that cannot score is refused before its first step.
  auto bad = evaluated_config(dir, "bad", 2);
  bad.eval.reference = dir / "missing";
  EXPECT_NE(error_of([&] { train(bad); }).find("missing"), std::string::npos);
}
