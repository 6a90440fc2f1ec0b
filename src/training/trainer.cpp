#include "flowlab/training/trainer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "flowlab/data/batcher.h"
#include "flowlab/dist/runtime.h"
#include "flowlab/dist/world.h"
#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/image.h"
#include "flowlab/io/metrics.h"
#include "flowlab/io/progress.h"
#include "flowlab/io/tensorboard.h"
#include "flowlab/stop_signal.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/initial_weights.h"
#include "flowlab/training/lr_schedule.h"
#include "flowlab/training/periodic_events.h"
#include "flowlab/training/training_eval.h"

namespace flowlab {
namespace {

// Every EMA copy of the model, in training.ema_decays order.
std::vector<Network*> ema_shadows(const TrainingState& state) {
  std::vector<Network*> shadows;
  for (const auto& ema : state.emas) shadows.push_back(ema->shadow().get());
  return shadows;
}

}  // namespace

Trainer::Trainer(const ResolvedConfig& config, const Dataset& data, Method& method)
    : config_(config.get()), data_(data), method_(method), device_(resolve_device(config_.training.device)) {
  if (config_.training.tensorboard) TensorBoardWriter::check_available();
}

Trainer::Trainer(const Config& config, const Dataset& data, Method& method)
    : Trainer(resolve_for_data(plan_training_run(config), data), data, method) {}

Trainer::~Trainer() = default;

void Trainer::save_sample_grid(const std::string& path) {
  const auto& s = config_.sampling;
  {
    // A reconstructing method: the first 8 training images over their reconstructions.
    torch::NoGradGuard no_grad;
    auto originals = data_.batch(torch::arange(std::min<int64_t>(8, data_.size()))).images.to(device_);
    auto reconstructions = method_.reconstruct(*state_.ema_model(), originals);
    if (reconstructions.defined()) {
      if (dist::world().is_main())
        save_grid(path, torch::cat({originals, reconstructions.clamp(-1, 1)}).cpu(), originals.size(0));
      return;
    }
  }
  auto& model = as_backbone(*state_.ema_model());
  int64_t classes = model.num_classes();
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
  // Progress by sampling time, from t = 1 (noise) to 0.
  Progress progress("sample grid (" + std::to_string(n) + " images)", 100, "%");
  StepHook show = [&](const torch::Tensor& x, double t) {
    throw_if_stop_requested("the sample grid");
    if (world.is_main()) progress.update(std::llround(100 * (1 - t)));
    return x;
  };
  auto mine = first < end ? method_.sample(model, noise.slice(0, first, end).to(device_),
                                           labels.slice(0, first, end).to(device_), s, show).x
                           : noise.slice(0, 0, 0);
  auto images = world.gather_rows(mine);
  if (!world.is_main()) return;
  if (codec_) images = codec_->decode(images);
  std::vector<std::string> names;
  if (classes > 0)
    names.assign(data_.class_names.begin(),
                 data_.class_names.begin() + std::min<int64_t>(classes, 16));
  save_class_grid(path, images, per_row, names);
}

void Trainer::start(const std::string& resume_from) {
  const auto& tc = config_.training;
  std::function<void(Network&)> init;
  if (!tc.init_from.empty() && resume_from.empty())
    init = [&](Network& model) { load_initial_weights(model, config_, tc.init_from); };
  state_ = make_training_state(config_, device_, init);
  if (!resume_from.empty()) {
    // Read onto the training device: the weights and AdamW's moments stay where the model is.
    CheckpointReader reader(resume_from, device_);
    if (reader.config().model.type != config_.model.type ||
        reader.config().method.name != config_.method.name)
      throw Error("checkpoint " + resume_from + " holds a " + reader.config().method.name + " " +
                  reader.config().model.type + " model; this run trains " + config_.method.name +
                  " " + config_.model.type);
    if (reader.config().training.optimizer != tc.optimizer)
      throw Error("checkpoint " + resume_from + " was trained with training.optimizer " +
                  reader.config().training.optimizer + "; resume with the same, or start anew with --init_from");
    reader.load_weights(*state_.model, false);
    for (auto& ema : state_.emas) {
      if (reader.has_ema(ema->decay())) {
        reader.load_weights(*ema->shadow(), WeightChoice{true, ema->decay()});
      } else {
        // An EMA the run did not keep before: from the current weights on.
        load_named_weights(*ema->shadow(), named_weights(*state_.model), "the model");
        spdlog::warn("checkpoint {} keeps no EMA of decay {}; that EMA starts from the current weights",
                     resume_from, ema->decay());
      }
    }
    reader.load_optimizer(*state_.optimizer);
    reader.load_method_state(method_);
    reader.restore_rng();
    state_.step = reader.step();
    spdlog::info("resumed from {} at step {}", resume_from, state_.step);
  }
  // Every process starts from rank 0's weights.
  std::vector<torch::Tensor> weights;
  std::vector<Network*> models{state_.model.get()};
  for (auto* shadow : ema_shadows(state_)) models.push_back(shadow);
  for (auto* m : models) {
    for (const auto& p : m->parameters()) weights.push_back(p.data());
    for (const auto& b : m->buffers()) weights.push_back(b);
  }
  dist::world().broadcast(weights);
  if (config_.compute.channels_last) use_channels_last(state_);
}

void Trainer::prepare(const std::string& resume_from) {
  const auto& tc = config_.training;
  auto& world = dist::world();
  if (world.is_main()) {
    ensure_directory(tc.output_dir);
    ensure_directory(tc.output_dir + "/samples");
  }
  configure_threads(tc.threads);
  start(resume_from);
  if (world.is_main() && !config_.model.vae.empty()) codec_ = std::make_unique<LatentCodec>(config_.model, device_);
  if (world.is_main()) write_file_atomic(tc.output_dir + "/config.yaml", config_to_yaml(config_));
  spdlog::info("{} on {} ({} images, {} classes), {}{} with {} parameters, device {}", method_.name(), data_.name,
               data_.size(), data_.num_classes(), config_.model.type,
               config_.model.variant.empty() ? "" : " " + config_.model.variant, state_.model->parameter_count(),
               tc.device);
  // compute.data_on_device: one copy of the dataset on the training device; batches are gathered
  // and flipped there.
  training_data_ = data_;  // tensor handles, not copies
  if (config_.compute.data_on_device) {
    training_data_.images = data_.images.to(device_);
    training_data_.labels = data_.labels.to(device_);
    for (auto* rows : {&training_data_.latent_std, &training_data_.flip_mean, &training_data_.flip_std,
                       &training_data_.noise})
      if (rows->defined()) *rows = rows->to(device_);
  }
  const int64_t local_rows = tc.batch_size / world.size();
  batcher_ = std::make_unique<Batcher>(training_data_, tc.batch_size, random_flip_enabled(config_.data, training_data_),
                                       tc.seed, device_, BatchShard{world.rank() * local_rows, local_rows, tc.batch_size});
  outputs_ = RunOutputs{};
  bad_in_a_row_ = 0;
  graphed_.reset();
  if (config_.compute.cuda_graphs) graphed_ = std::make_unique<GraphedTrainStep>(state_, method_, config_, device_);
  if (world.is_main()) {
    outputs_.metrics = std::make_unique<MetricsWriter>(tc.output_dir + "/metrics.jsonl", !resume_from.empty());
    if (tc.tensorboard) outputs_.tensorboard = std::make_unique<TensorBoardWriter>(tc.output_dir + "/tensorboard");
  }
}

void Trainer::save_checkpoint_as(const std::string& path) {
  if (dist::world().is_main())
    save_checkpoint(path, {config_, state_.step, data_.class_names, *state_.model, ema_shadows(state_),
                           *state_.optimizer, &method_});
}

std::vector<std::unique_ptr<PeriodicEvent>> Trainer::make_events(const std::string& resume_from) {
  const auto& tc = config_.training;
  std::vector<std::unique_ptr<PeriodicEvent>> events;
  if (tc.eval_every > 0) {
    // The EMA model scored now and then; every further EMA on the same noise as fid_ema_DECAY.
    auto evaluator = std::make_shared<TrainingEvaluator>(config_, device_);
    auto evaluate = [this, evaluator](int64_t step) {
      auto record = evaluator->evaluate(method_, as_backbone(*state_.ema_model()), step);
      for (size_t i = 1; i < state_.emas.size(); ++i) {
        auto more = evaluator->evaluate(method_, as_backbone(*state_.emas[i]->shadow()), step);
        const auto suffix = "_ema_" + c10::str(state_.emas[i]->decay());
        for (const char* key : {"fid", "kid_mean", "kid_std"})
          if (more.contains(key)) record[key + suffix] = more[key];
        record["eval_seconds"] = record["eval_seconds"].get<double>() + more["eval_seconds"].get<double>();
      }
      return record;
    };
    double best = resume_from.empty() ? std::numeric_limits<double>::infinity()
                                      : best_logged_fid(tc.output_dir + "/metrics.jsonl", state_.step);
    events.push_back(std::make_unique<EvaluationEvent>(
        tc.eval_every, evaluate, [this] { save_checkpoint_as(config_.training.output_dir + "/best.pt"); }, best, outputs_));
  }
  if (tc.sample_every > 0)
    events.push_back(std::make_unique<SampleGridEvent>(
        tc.sample_every, tc.output_dir, [this](const std::string& path) { save_sample_grid(path); }, outputs_));
  events.push_back(
      std::make_unique<CheckpointEvent>(tc.checkpoint_every,
                                        [this] { save_checkpoint_as(config_.training.output_dir + "/last.pt"); }));
  return events;
}

void Trainer::check_graphed_steps_finite(int64_t checked_up_to) {
  if (!graphed_ || !graphed_->non_finite_seen()) return;
  throw Error("training stopped at step " + std::to_string(state_.step) + ": a step after step " +
              std::to_string(checked_up_to) +
              " had a non-finite loss or gradient, which a captured step (compute.cuda_graphs) cannot skip. "
              "Resume from the last checkpoint without compute.cuda_graphs, or with a lower training.lr");
}

void Trainer::count_bad_step(bool applied, TrainResult& result) {
  const auto& tc = config_.training;
  if (applied) {
    bad_in_a_row_ = 0;
    return;
  }
  ++result.skipped_steps;
  spdlog::warn("step {}: non-finite loss or gradient, update skipped", state_.step);
  if (tc.max_bad_steps > 0 && ++bad_in_a_row_ >= tc.max_bad_steps) {
    save_checkpoint_as(tc.output_dir + "/last.pt");
    throw Error("training stopped at step " + std::to_string(state_.step) + ": " + std::to_string(bad_in_a_row_) +
                " steps in a row had a non-finite loss or gradient. Likely causes: a learning rate too high "
                "(training.lr), too little precision for the values reached, or NaN/Inf in the data. Checkpoint " +
                tc.output_dir + "/last.pt holds the last finite weights");
  }
}

TrainResult Trainer::run(const std::string& resume_from, int64_t stop_at) {
  const auto& tc = config_.training;
  auto& world = dist::world();
  prepare(resume_from);
  const int64_t total = tc.steps > 0 ? tc.steps : tc.epochs * batcher_->batches_per_epoch();
  LogEvent log(tc.log_every, tc.batch_size, batcher_->batches_per_epoch(), device_, outputs_);
  auto events = make_events(resume_from);
  std::unique_ptr<Progress> progress;
  if (world.is_main())
    progress = std::make_unique<Progress>("train", total * tc.batch_size, "img", state_.step * tc.batch_size);
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
  TrainResult result;
  auto should_stop = [&] { return stop_agreed || (stop_at > 0 && state_.step >= stop_at); };
  int64_t finite_up_to = state_.step;
  while (state_.step < total && !should_stop()) {
    StepRandom rng(tc.seed, state_.step, batcher_->shard());
    auto batch = batcher_->at_step(state_.step, rng);
    double lr = learning_rate_at(state_.step, total, tc.lr, config_.scheduler);
    TrainStep step;
    if (graphed_) {
      rng.seed_default_generators();
      step = (*graphed_)(batch, lr);
    } else {
      step = train_step(state_, method_, batch, config_, lr, rng, average);
    }
    stop_agreed = world.size() == 1 ? stop_requested() : stop_flag.item<float>() > 0;
    count_bad_step(step.update.applied, result);
    log.add(step, lr);
    const bool any_event_due = std::any_of(events.begin(), events.end(),
                                           [&](const auto& event) { return event->due(state_.step, total); });
    if (log.due(state_.step, total) || any_event_due || should_stop()) {
      check_graphed_steps_finite(finite_up_to);
      finite_up_to = state_.step;
    }
    if (log.due(state_.step, total)) log.run(state_.step);
    // A stop request abandons an evaluation or a grid at its next sampling step; the checkpoint
    // after the loop is written at once.
    try {
      for (auto& event : events)
        if (event->due(state_.step, total)) event->run(state_.step);
    } catch (const StopRequested& stop) {
      spdlog::warn("step {}: {}; abandoned", state_.step, stop.what());
      stop_agreed = true;
    }
    if (progress) progress->update(state_.step * tc.batch_size, outputs_.latest_figures + outputs_.latest_fid);
  }
  result.step = state_.step;
  result.checkpoint = tc.output_dir + "/last.pt";
  save_checkpoint_as(result.checkpoint);
  result.stopped = should_stop() && state_.step < total;
  finish(result, total);
  return result;
}

void Trainer::finish(const TrainResult& result, int64_t total) {
  const auto& tc = config_.training;
  const bool main = dist::world().is_main();
  if (result.stopped) {
    if (main)
      spdlog::warn("stopped at step {} of {}; checkpoint {} (continue with --resume)", state_.step, total,
                   result.checkpoint);
    return;
  }
  if (main) {
    // The first EMA as weights_ema.*, every further one as weights_ema_DECAY.*.
    for (size_t i = 0; i < state_.emas.size(); ++i) {
      const auto stem = tc.output_dir + "/weights_ema" + (i == 0 ? "" : "_" + c10::str(state_.emas[i]->decay()));
      export_weights(stem + ".pt", *state_.emas[i]->shadow());
      export_weights_safetensors(stem + ".safetensors", *state_.emas[i]->shadow(), config_);
    }
  }
  // The last grid only after a run long enough to reach one sample_every interval: a short
  // smoke run is not kept waiting for a picture (generate_samples draws one from last.pt).
  if (tc.final_grid && tc.sample_every > 0 && state_.step >= tc.sample_every) {
    const auto path = tc.output_dir + "/samples/final.png";
    try {
      save_sample_grid(path);
      if (outputs_.tensorboard) outputs_.tensorboard->add_png("samples", read_file_bytes(path), state_.step);
    } catch (const StopRequested& stop) {
      spdlog::warn("{}; abandoned (the checkpoint and weights are written)", stop.what());
    }
  }
  if (main)
    spdlog::info("done: {} steps; checkpoint {}, EMA weights {}/weights_ema.pt", state_.step, result.checkpoint,
                 tc.output_dir);
}

}  // namespace flowlab
