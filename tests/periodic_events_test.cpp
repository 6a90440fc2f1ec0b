// The training run's periodic events, each alone: when it is due, and what it does then.
#include <gtest/gtest.h>

#include <fstream>

#include "flowlab/training/periodic_events.h"
#include "test_helpers.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

std::vector<int64_t> due_steps(const PeriodicEvent& event, int64_t total) {
  std::vector<int64_t> steps;
  for (int64_t step = 1; step <= total; ++step)
    if (event.due(step, total)) steps.push_back(step);
  return steps;
}

TrainStep step_of(double loss, double grad_norm, bool applied, double mse) {
  TrainStep step;
  step.update = {torch::tensor(loss, torch::kFloat64), torch::tensor(grad_norm, torch::kFloat64), applied};
  step.metrics["mse"] = torch::tensor(mse);
  return step;
}

std::vector<nlohmann::json> records(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

using Steps = std::vector<int64_t>;

}  // namespace

TEST(PeriodicEvents, EachIsDueOnItsOwnSchedule) {
  RunOutputs outputs;
  LogEvent log(4, 8, 5, torch::kCPU, outputs);
  EXPECT_EQ(due_steps(log, 10), (Steps{4, 8, 10}));  // and at the last step, for the final record
  EvaluationEvent eval(4, nullptr, nullptr, 1.0, outputs);
  EXPECT_EQ(due_steps(eval, 10), (Steps{4, 8, 10}));
  EXPECT_EQ(due_steps(eval, 3), Steps{});  // a run shorter than one interval is not scored
  SampleGridEvent grid(4, "", nullptr, outputs);
  EXPECT_EQ(due_steps(grid, 8), (Steps{4}));  // the run's end draws its own
  CheckpointEvent checkpoint(3, nullptr);
  EXPECT_EQ(due_steps(checkpoint, 9), (Steps{3, 6}));  // the run's end writes its own
}

// Mean loss and gradient norm over the applied steps, the skipped ones counted, the last learning
// rate and the method's figures; the next record starts afresh.
TEST(PeriodicEvents, TheLogRecordSummarisesTheStepsSinceTheLast) {
  TempDir dir;
  RunOutputs outputs;
  outputs.metrics = std::make_unique<MetricsWriter>(dir / "metrics.jsonl", false);
  LogEvent log(3, 16, 4, torch::kCPU, outputs);
  log.add(step_of(1.0, 10.0, true, 0.5), 1e-3);
  log.add(step_of(NAN, NAN, false, 0.4), 2e-3);
  log.add(step_of(3.0, 30.0, true, 0.25), 3e-3);
  log.run(3);
  log.add(step_of(5.0, 50.0, true, 0.125), 4e-3);
  log.run(4);
  auto r = records(dir / "metrics.jsonl");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["step"], 3);
  EXPECT_DOUBLE_EQ(r[0]["epoch"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(r[0]["loss"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(r[0]["grad_norm"].get<double>(), 20.0);
  EXPECT_EQ(r[0]["skipped_steps"], 1);
  EXPECT_DOUBLE_EQ(r[0]["lr"].get<double>(), 3e-3);
  EXPECT_DOUBLE_EQ(r[0]["mse"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(r[1]["loss"].get<double>(), 5.0);
  EXPECT_EQ(r[1]["skipped_steps"], 0);
  EXPECT_NE(outputs.latest_figures.find("loss 5.0000"), std::string::npos) << outputs.latest_figures;
}

// best.pt only when the FID is lower than every one before, a resumed run's best included.
TEST(PeriodicEvents, EvaluationSavesTheBestOnlyWhenItImproves) {
  std::vector<double> fids{0.5, 0.3, 0.4, 0.2};
  std::vector<int64_t> saved_at;
  int64_t now = 0;
  RunOutputs outputs;
  EvaluationEvent eval(
      1, [&](int64_t step) { return nlohmann::json{{"step", step}, {"fid", fids[step - 1]}}; },
      [&] { saved_at.push_back(now); }, /*best_fid=*/0.45, outputs);
  for (now = 1; now <= 4; ++now) eval.run(now);
  EXPECT_EQ(saved_at, (Steps{2, 4}));
  EXPECT_EQ(outputs.latest_fid, " FID 0.2");
}

TEST(PeriodicEvents, GridsAndCheckpointsCallTheirActions) {
  RunOutputs outputs;
  std::vector<std::string> drawn;
  SampleGridEvent grid(5, "/out", [&](const std::string& path) { drawn.push_back(path); }, outputs);
  grid.run(15);
  EXPECT_EQ(drawn, std::vector<std::string>{"/out/samples/step_0000015.png"});
  int saves = 0;
  CheckpointEvent checkpoint(5, [&] { ++saves; });
  checkpoint.run(5);
  EXPECT_EQ(saves, 1);
}
