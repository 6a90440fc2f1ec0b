#include "flowlab/training/periodic_events.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>

#include "flowlab/dist/world.h"
#include "flowlab/io/files.h"

namespace flowlab {

LogEvent::LogEvent(int64_t every, int64_t batch_size, int64_t batches_per_epoch, torch::Device device,
                   RunOutputs& outputs)
    : every_(every),
      batch_size_(batch_size),
      batches_per_epoch_(batches_per_epoch),
      outputs_(outputs),
      loss_sum_(torch::zeros({}, torch::TensorOptions().device(device))),
      grad_norm_sum_(torch::zeros({}, torch::TensorOptions().device(device))),
      start_(std::chrono::steady_clock::now()) {}

void LogEvent::add(const TrainStep& step, double lr) {
  if (step.update.applied) {
    loss_sum_ += step.update.loss;
    grad_norm_sum_ += step.update.grad_norm;
    ++applied_;
  } else {
    ++skipped_;
  }
  lr_ = lr;
  method_figures_ = step.metrics;
}

void LogEvent::run(int64_t step) {
  auto& world = dist::world();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  auto mean = [&](const torch::Tensor& sum) {
    return applied_ > 0 ? sum.item<double>() / static_cast<double>(applied_) : std::nan("");
  };
  nlohmann::json record = {
      {"step", step},
      {"epoch", static_cast<double>(step) / static_cast<double>(batches_per_epoch_)},
      {"loss", mean(loss_sum_)},
      {"lr", lr_},
      {"grad_norm", mean(grad_norm_sum_)},
      {"skipped_steps", skipped_},
      {"processes", world.size()},
      {"images_per_sec", seconds > 0 ? (applied_ + skipped_) * batch_size_ / seconds : 0.0}};
  // The method's figures averaged over the processes: a collective, so every process runs it.
  std::vector<torch::Tensor> figures;
  for (const auto& kv : method_figures_) figures.push_back(kv.second.detach().reshape({1}).clone());
  world.allreduce_mean(figures, 1 << 20);
  size_t k = 0;
  for (const auto& kv : method_figures_) record[kv.first] = figures[k++].item<double>();
  loss_sum_.zero_();
  grad_norm_sum_.zero_();
  applied_ = skipped_ = 0;
  start_ = std::chrono::steady_clock::now();

  if (outputs_.metrics) outputs_.metrics->write(record);
  if (outputs_.tensorboard) {
    auto scalars = record;
    scalars.erase("processes");
    outputs_.tensorboard->add_scalars("train", scalars, step);
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "loss %.4f lr %.2e", record["loss"].get<double>(), lr_);
  outputs_.latest_figures = buf;
}

EvaluationEvent::EvaluationEvent(int64_t every, Evaluate evaluate, std::function<void()> save_best,
                                 double best_fid, RunOutputs& outputs)
    : every_(every),
      evaluate_(std::move(evaluate)),
      save_best_(std::move(save_best)),
      best_fid_(best_fid),
      outputs_(outputs) {}

void EvaluationEvent::run(int64_t step) {
  auto record = evaluate_(step);
  double fid = record["fid"].get<double>();
  if (outputs_.metrics) {
    outputs_.metrics->write(record);
    spdlog::info("step {}: FID {:.4f} ({} samples, {:.1f} s){}", step, fid, record["eval_samples"].get<int64_t>(),
                 record["eval_seconds"].get<double>(), fid < best_fid_ ? ", the best so far: best.pt" : "");
  }
  if (outputs_.tensorboard) outputs_.tensorboard->add_scalars("eval", record, step);
  char buf[32];
  std::snprintf(buf, sizeof(buf), " FID %.4g", fid);  // hashed weights give FIDs below 0.01
  outputs_.latest_fid = buf;
  if (fid < best_fid_) {
    best_fid_ = fid;
    save_best_();
  }
}

SampleGridEvent::SampleGridEvent(int64_t every, std::string output_dir, std::function<void(const std::string&)> draw,
                                 RunOutputs& outputs)
    : every_(every), output_dir_(std::move(output_dir)), draw_(std::move(draw)), outputs_(outputs) {}

void SampleGridEvent::run(int64_t step) {
  char name[64];
  std::snprintf(name, sizeof(name), "/samples/step_%07lld.png", static_cast<long long>(step));
  const auto path = output_dir_ + name;
  draw_(path);
  if (outputs_.tensorboard) outputs_.tensorboard->add_png("samples", read_file_bytes(path), step);
}

}  // namespace flowlab
