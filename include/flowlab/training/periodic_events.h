// What a training run does now and then beside its steps, each its own small type: the log
// record, the evaluation with best.pt, the sample grid and the checkpoint. Trainer::run runs every
// event that is due after each step (training/trainer.h).
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "flowlab/io/metrics.h"
#include "flowlab/io/tensorboard.h"
#include "flowlab/training/training_state.h"

namespace flowlab {

// The writers the events share; null on every process but the main one (and tensorboard when
// training.tensorboard is off).
struct RunOutputs {
  std::unique_ptr<MetricsWriter> metrics;
  std::unique_ptr<TensorBoardWriter> tensorboard;
  std::string latest_figures, latest_fid;  // the progress line's " loss ... lr ..." and " FID ..."
};

class PeriodicEvent {
 public:
  virtual ~PeriodicEvent() = default;
  // Whether it runs after `step` of a run of `total` steps.
  virtual bool due(int64_t step, int64_t total) const = 0;
  virtual void run(int64_t step) = 0;
};

// Every `every` steps and at the last one: metrics.jsonl's record of the steps since the last
// (mean loss and gradient norm over the applied steps, skipped steps, images/s, the method's
// figures averaged over the processes), its TensorBoard scalars and the progress line's figures.
class LogEvent : public PeriodicEvent {
 public:
  LogEvent(int64_t every, int64_t batch_size, int64_t batches_per_epoch, torch::Device device, RunOutputs& outputs);
  // Each step's outcome, its learning rate and the method's figures, before due() is asked.
  void add(const TrainStep& step, double lr);
  bool due(int64_t step, int64_t total) const override { return step % every_ == 0 || step == total; }
  void run(int64_t step) override;

 private:
  int64_t every_, batch_size_, batches_per_epoch_;
  RunOutputs& outputs_;
  torch::Tensor loss_sum_, grad_norm_sum_;  // summed on the device: no host sync per step
  int64_t applied_ = 0, skipped_ = 0;
  double lr_ = 0;
  std::map<std::string, torch::Tensor> method_figures_;
  std::chrono::steady_clock::time_point start_;
};

// Every `every` steps, and at the last step when the run reached at least one interval: the
// scores `evaluate` returns (a metrics.jsonl record with "fid"), logged; a lower FID than any
// before calls `save_best` (best.pt). `best_fid`: a resumed run's best so far.
class EvaluationEvent : public PeriodicEvent {
 public:
  using Evaluate = std::function<nlohmann::json(int64_t step)>;
  EvaluationEvent(int64_t every, Evaluate evaluate, std::function<void()> save_best, double best_fid,
                  RunOutputs& outputs);
  bool due(int64_t step, int64_t total) const override {
    return step % every_ == 0 || (step == total && step >= every_);
  }
  void run(int64_t step) override;

 private:
  int64_t every_;
  Evaluate evaluate_;
  std::function<void()> save_best_;
  double best_fid_;
  RunOutputs& outputs_;
};

// Every `every` steps before the last (the run's end draws its own): `draw(path)` writes the grid
// to OUTPUT_DIR/samples/step_NNNNNNN.png, which TensorBoard also gets.
class SampleGridEvent : public PeriodicEvent {
 public:
  SampleGridEvent(int64_t every, std::string output_dir, std::function<void(const std::string&)> draw,
                  RunOutputs& outputs);
  bool due(int64_t step, int64_t total) const override { return step % every_ == 0 && step < total; }
  void run(int64_t step) override;

 private:
  int64_t every_;
  std::string output_dir_;
  std::function<void(const std::string&)> draw_;
  RunOutputs& outputs_;
};

// Every `every` steps before the last (the run's end writes its own): `save()` (last.pt).
class CheckpointEvent : public PeriodicEvent {
 public:
  CheckpointEvent(int64_t every, std::function<void()> save) : every_(every), save_(std::move(save)) {}
  bool due(int64_t step, int64_t total) const override { return step % every_ == 0 && step < total; }
  void run(int64_t) override { save_(); }

 private:
  int64_t every_;
  std::function<void()> save_;
};

}  // namespace flowlab
