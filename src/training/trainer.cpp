#include "flowlab/recipe.h"
#include "flowlab/training/trainer.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "flowlab/data/batcher.h"
#include "flowlab/dist/runtime.h"
#include "flowlab/dist/world.h"
#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/image.h"
#include "flowlab/io/metrics.h"
#include "flowlab/io/progress.h"
#include "flowlab/models/memory_format.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/ema.h"
#include "flowlab/training/label_dropout.h"
#include "flowlab/training/lr_schedule.h"
#include "flowlab/training/optimizer_step.h"
#include "flowlab/training/stop_signal.h"

namespace flowlab {
namespace {

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace

Trainer::Trainer(Config config, const Dataset& data, Method& method)
    : config_(std::move(config)), data_(data), method_(method), device_(torch::kCPU) {
  auto& m = config_.model;
  if (m.in_channels != data.channels()) {
    spdlog::info("model.in_channels = {} from dataset {}", data.channels(), data.name);
    m.in_channels = static_cast<int>(data.channels());
  }
  if (m.num_classes != 0 && m.num_classes != data.num_classes()) {
    spdlog::info("model.num_classes = {} from dataset {}", data.num_classes(), data.name);
    m.num_classes = static_cast<int>(data.num_classes());
  }
  validate(config_);
  device_ = resolve_device(config_.training.device);
}

Trainer::~Trainer() = default;

void Trainer::save_sample_grid(const std::string& path) {
  const auto& s = config_.sampling;
  int64_t classes = model_->num_classes();
  int64_t per_row = 8;
  torch::Tensor labels;
  if (classes > 0) {
    labels = torch::arange(std::min<int64_t>(classes, 16), torch::kInt64).repeat_interleave(per_row);
  } else {
    labels = torch::zeros({64}, torch::kInt64);
  }
  // Fixed noise, from its own generator, so grids are comparable across steps and sampling never
  // touches the training RNG stream.
  auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(config_.training.seed) + 7);
  auto noise = torch::randn({labels.size(0), data_.channels(), data_.height(), data_.width()}, gen,
                            torch::TensorOptions().dtype(torch::kFloat32));
  // Every process samples its share of the grid's rows.
  auto& world = dist::world();
  int64_t n = labels.size(0), first = n * world.rank() / world.size(),
          end = n * (world.rank() + 1) / world.size();
  auto mine = first < end ? method_.sample(*ema_model_, noise.slice(0, first, end).to(device_),
                                           labels.slice(0, first, end).to(device_), s).x
                           : noise.slice(0, 0, 0);
  auto images = world.gather_rows(mine);
  if (!world.is_main()) return;
  std::vector<std::string> names;
  if (classes > 0)
    names.assign(data_.class_names.begin(),
                 data_.class_names.begin() + std::min<int64_t>(classes, 16));
  save_class_grid(path, images, per_row, names);
}

TrainResult Trainer::run(const std::string& resume_from, int64_t stop_at) {
  const auto& tc = config_.training;
  auto& world = dist::world();
  const bool main = world.is_main();  // the one process that writes outputs
  if (tc.batch_size % world.size() != 0)
    throw Error("training.batch_size = " + std::to_string(tc.batch_size) + " (the global batch) does "
                "not split evenly over " + std::to_string(world.size()) + " processes");
  if (main) {
    ensure_directory(tc.output_dir);
    ensure_directory(tc.output_dir + "/samples");
  }
  configure_threads(tc.threads);

  torch::manual_seed(static_cast<uint64_t>(tc.seed));
  model_ = make_backbone(config_);
  ema_model_ = make_backbone(config_);
  if (!tc.init_from.empty() && resume_from.empty()) {
    CheckpointReader pretrained(tc.init_from);
    if (pretrained.config().model.type != config_.model.type)
      throw Error("training.init_from " + tc.init_from + " holds a " +
                  pretrained.config().model.type + " model; this run trains " + config_.model.type);
    pretrained.load_weights(*model_, true);
    spdlog::info("initialised from the EMA weights of {} (step {})", tc.init_from, pretrained.step());
  }
  model_->to(device_);
  ema_model_->to(device_);
  ema_ = std::make_unique<Ema>(model_, ema_model_, tc.ema_decay, tc.ema_warmup);
  optimizer_ = std::make_unique<torch::optim::AdamW>(
      model_->parameters(),
      torch::optim::AdamWOptions(tc.lr).betas({tc.beta1, tc.beta2}).weight_decay(tc.weight_decay));
  auto& optimizer = *optimizer_;
  TrainResult result;
  if (!resume_from.empty()) {
    // Read onto the training device: the weights and AdamW's moments stay where the model is.
    CheckpointReader reader(resume_from, device_);
    if (reader.config().model.type != config_.model.type ||
        reader.config().method.name != config_.method.name)
      throw Error("checkpoint " + resume_from + " holds a " + reader.config().method.name + " " +
                  reader.config().model.type + " model; this run trains " + config_.method.name +
                  " " + config_.model.type);
    reader.load_weights(*model_, false);
    reader.load_weights(*ema_model_, true);
    reader.load_optimizer(optimizer);
    reader.restore_rng();
    result.step = reader.step();
    spdlog::info("resumed from {} at step {}", resume_from, result.step);
  }
  // Every process starts from rank 0's weights.
  std::vector<torch::Tensor> state;
  for (auto* m : {model_.get(), ema_model_.get()}) {
    for (const auto& p : m->parameters()) state.push_back(p.data());
    for (const auto& b : m->buffers()) state.push_back(b);
  }
  world.broadcast(state);
  if (config_.compute.channels_last) {
    to_channels_last(*model_);
    to_channels_last(*ema_model_);
  }

  if (main) write_file_atomic(tc.output_dir + "/config.yaml", config_to_yaml(config_));
  spdlog::info("{} on {} ({} images, {} classes), {}{} with {} parameters, device {}",
               method_.name(), data_.name, data_.size(), data_.num_classes(), config_.model.type,
               config_.model.variant.empty() ? "" : " " + config_.model.variant,
               model_->parameter_count(), tc.device);

  const int64_t local_rows = tc.batch_size / world.size();
  const BatchShard shard{world.rank() * local_rows, local_rows, tc.batch_size};
  // compute.data_on_device: one copy of the dataset on the training device; batches are gathered
  // and flipped there.
  Dataset training_data = data_;  // tensor handles, not copies
  if (config_.compute.data_on_device) {
    training_data.images = data_.images.to(device_);
    training_data.labels = data_.labels.to(device_);
  }
  Batcher batcher(training_data, tc.batch_size, random_flip_enabled(config_.data), tc.seed, device_,
                  shard);
  const int64_t total = tc.steps > 0 ? tc.steps : tc.epochs * batcher.batches_per_epoch();
  const std::string last_path = tc.output_dir + "/last.pt";
  std::unique_ptr<MetricsWriter> metrics;
  std::unique_ptr<Progress> progress;
  if (main) {
    metrics = std::make_unique<MetricsWriter>(tc.output_dir + "/metrics.jsonl", !resume_from.empty());
    progress = std::make_unique<Progress>("train", total * tc.batch_size, "img", result.step * tc.batch_size);
  }
  auto params = model_->parameters();
  auto save = [&] {
    if (main)
      save_checkpoint(last_path,
                      {config_, result.step, data_.class_names, *model_, *ema_model_, optimizer});
    result.checkpoint = last_path;
  };
  // Several processes: gradients and loss averaged, and a stop request (SIGINT / SIGTERM on any
  // rank) shared, so every rank stops after the same step.
  bool stop_agreed = world.size() == 1 && stop_requested();
  torch::Tensor stop_flag;
  GradientAverager average;
  if (world.size() > 1)
    average = [&](std::vector<torch::Tensor>& tensors) {
      stop_flag = torch::full({1}, stop_requested() ? 1.0f : 0.0f, tensors.back().options());
      tensors.push_back(stop_flag);
      world.allreduce_mean(tensors, static_cast<int64_t>(config_.distributed.bucket_mb * (1 << 20)));
    };

  auto loss_sum = torch::zeros({}, torch::TensorOptions().device(device_));
  auto grad_norm_sum = torch::zeros({}, torch::TensorOptions().device(device_));
  int64_t interval_steps = 0, interval_skipped = 0, bad_in_a_row = 0;
  auto interval_start = std::chrono::steady_clock::now();
  std::string last_figures;
  auto should_stop = [&] { return stop_agreed || (stop_at > 0 && result.step >= stop_at); };
  while (result.step < total && !should_stop()) {
    model_->train();
    StepRandom rng(tc.seed, result.step, shard);
    auto batch = batcher.at_step(result.step, rng);
    auto labels = drop_labels(batch.labels, tc.cfg_dropout, model_->null_label(), rng);
    double lr = learning_rate_at(result.step, total, tc.lr, config_.scheduler);
    set_learning_rate(optimizer, lr);
    auto out = method_.loss(*model_, batch.images, labels, rng);
    auto update = optimizer_step(optimizer, params, out.loss, tc.grad_clip, average);
    stop_agreed = world.size() == 1 ? stop_requested() : stop_flag.item<float>() > 0;
    if (update.applied) {
      ema_->update(result.step + 1);
      loss_sum += update.loss;
      grad_norm_sum += update.grad_norm;
      ++interval_steps;
      bad_in_a_row = 0;
    } else {
      ++result.skipped_steps;
      ++interval_skipped;
      spdlog::warn("step {}: non-finite loss or gradient, update skipped", result.step + 1);
      if (tc.max_bad_steps > 0 && ++bad_in_a_row >= tc.max_bad_steps) {
        ++result.step;
        save();
        throw Error("training stopped at step " + std::to_string(result.step) + ": " +
                    std::to_string(bad_in_a_row) +
                    " steps in a row had a non-finite loss or gradient. Likely causes: a learning "
                    "rate too high (training.lr), too little precision for the values reached, "
                    "or NaN/Inf in the data. Checkpoint " + last_path + " holds the last finite weights");
      }
    }
    ++result.step;
    if (result.step % tc.log_every == 0 || result.step == total) {
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - interval_start).count();
      double loss = interval_steps > 0 ? loss_sum.item<double>() / static_cast<double>(interval_steps)
                                       : std::nan("");
      nlohmann::json record = {
          {"step", result.step},
          {"epoch", static_cast<double>(result.step) / static_cast<double>(batcher.batches_per_epoch())},
          {"loss", loss},
          {"lr", lr},
          {"grad_norm", interval_steps > 0 ? grad_norm_sum.item<double>() / static_cast<double>(interval_steps)
                                           : std::nan("")},
          {"skipped_steps", interval_skipped},
          {"processes", world.size()},
          {"images_per_sec", seconds > 0 ? (interval_steps + interval_skipped) * tc.batch_size / seconds : 0.0}};
      std::vector<torch::Tensor> method_metrics;  // the method's own figures, averaged over processes
      for (const auto& kv : out.metrics) method_metrics.push_back(kv.second.detach().reshape({1}).clone());
      world.allreduce_mean(method_metrics, 1 << 20);
      size_t k = 0;
      for (const auto& kv : out.metrics) record[kv.first] = method_metrics[k++].item<double>();
      if (main) metrics->write(record);
      char buf[64];
      std::snprintf(buf, sizeof(buf), "loss %.4f lr %.2e", loss, lr);
      last_figures = buf;
      loss_sum.zero_();
      grad_norm_sum.zero_();
      interval_steps = 0;
      interval_skipped = 0;
      interval_start = std::chrono::steady_clock::now();
    }
    if (main) progress->update(result.step * tc.batch_size, last_figures);
    if (tc.sample_every > 0 && result.step % tc.sample_every == 0 && result.step < total) {
      char name[64];
      std::snprintf(name, sizeof(name), "/samples/step_%07lld.png", static_cast<long long>(result.step));
      save_sample_grid(tc.output_dir + name);
    }
    if (result.step % tc.checkpoint_every == 0 && result.step < total) save();
  }

  save();
  if (should_stop() && result.step < total) {
    result.stopped = true;
    if (main)
      spdlog::warn("stopped at step {} of {}; checkpoint {} (continue with --resume)", result.step,
                   total, last_path);
    return result;
  }
  if (main) export_weights(tc.output_dir + "/weights_ema.pt", *ema_model_);
  if (tc.sample_every > 0) save_sample_grid(tc.output_dir + "/samples/final.png");
  if (main)
    spdlog::info("done: {} steps; checkpoint {}, EMA weights {}/weights_ema.pt", result.step,
                 last_path, tc.output_dir);
  return result;
}

}  // namespace flowlab
