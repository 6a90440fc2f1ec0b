#include "flowlab/training/training_run.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>

#include "flowlab/dist/launch_env.h"
#include "flowlab/dist/runtime.h"
#include "flowlab/dist/world.h"
#include "flowlab/error.h"
#include "flowlab/eval/reference.h"
#include "flowlab/io/files.h"
#include "flowlab/models/dit.h"
#include "flowlab/recipe.h"
#include "flowlab/stop_signal.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/graphed_step.h"
#include "flowlab/training/trainer.h"
#include "flowlab/training/training_data.h"

namespace flowlab {

TrainingPlan plan_training_run(const Config& fresh, const std::optional<std::string>& resume,
                               const std::function<void(Config&)>& overrides) {
  TrainingPlan plan{fresh, "", std::nullopt};
  if (resume) {
    plan.resume_from = resume->empty() ? fresh.training.output_dir + "/last.pt" : *resume;
    Config trained = CheckpointReader(plan.resume_from).config();
    if (trained.method.name != fresh.method.name)
      throw Error("checkpoint " + plan.resume_from + " holds a " + trained.method.name + " model, but train_" +
                  fresh.method.name + " trains " + fresh.method.name + "; use train_" + trained.method.name);
    plan.config = trained;
    if (overrides) overrides(plan.config);
    plan.config.model = trained.model;
    plan.config.training.output_dir = fresh.training.output_dir;
    plan.trained = trained;
  }
  validate(plan.config);
  check_directory_creatable(plan.config.training.output_dir);
  const auto processes = dist::launch_env_from_process().world_size;
  check_batch_splits(plan.config.training.batch_size, processes, plan.config.training.accumulate);
  check_cuda_graphs(plan.config, processes);
  return plan;
}

ResolvedConfig resolve_for_data(const TrainingPlan& plan, const Dataset& data) {
  if (plan.trained) check_model_fits_data(*plan.trained, data);
  Config config = plan.config;
  fit_model_to_data(config, data);
  record_resolved_defaults(config, data);
  validate(config);
  return ResolvedConfig(std::move(config));
}

TrainResult train(const TrainingPlan& plan, const std::function<MethodPtr(const Config&)>& make) {
  ProcessRuntime runtime(plan.config);
  auto t0 = std::chrono::steady_clock::now();
  auto data = load_training_data(plan.config, runtime.device());
  spdlog::info("loaded {} {} ({} images, {}x{}x{}) in {:.2f}s", data.name, plan.config.data.split, data.size(),
               data.channels(), data.height(), data.width(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  auto config = resolve_for_data(plan, data);
  if (dist::world().is_main()) std::cerr << "resolved config:\n" << config_to_yaml(config.get());
  auto method = make(config.get());
  install_stop_handlers();
  Trainer trainer(config, data, *method);
  return trainer.run(plan.resume_from);
}

void fit_model_to_data(Config& config, const Dataset& data) {
  auto& m = config.model;
  if (m.in_channels != data.channels()) {
    spdlog::info("model.in_channels = {} from dataset {}", data.channels(), data.name);
    m.in_channels = static_cast<int>(data.channels());
  }
  if (m.num_classes != 0 && m.num_classes != data.num_classes()) {
    spdlog::info("model.num_classes = {} from dataset {}", data.num_classes(), data.name);
    m.num_classes = static_cast<int>(data.num_classes());
  }
  if ((data.is_latent() || data.is_couplings()) && config.data.image_size != data.height()) {
    spdlog::info("data.image_size = {} from the {}", data.height(), data.is_latent() ? "latents" : "couplings");
    config.data.image_size = static_cast<int>(data.height());
  }
  if (data.is_latent()) {
    const auto& vae = data.autoencoder;
    m.vae = vae.path;
    m.vae_sha256 = vae.sha256;
    m.vae_scaling_factor = vae.scaling_factor;
    m.vae_shift_factor = vae.shift_factor;
  }
}

void record_resolved_defaults(Config& config, const Dataset& data) {
  auto& d = config.data;
  d.random_flip = random_flip_enabled(d, data) ? "true" : "false";
  d.fit = resolved_fit(d);
  auto& e = config.eval;
  if (e.sampler.empty()) e.sampler = config.sampling.sampler;
  if (e.steps == 0) e.steps = config.sampling.steps;
  if (e.cfg_scale < 0) e.cfg_scale = config.sampling.cfg_scale;
  if (e.reference.empty()) e.reference = training_set_reference(d);
  auto& m = config.model;
  if (m.type == "dit" && m.variant.empty() && m.hidden_size == 0 && m.depth == 0 && m.patch_size == 0)
    m.variant = kDefaultDiTSize;
}

void check_batch_splits(int64_t batch_size, int processes, int accumulate) {
  if (batch_size % processes != 0)
    throw Error("training.batch_size = " + std::to_string(batch_size) + " (the global batch) does not split "
                "evenly over " + std::to_string(processes) + " processes");
  if ((batch_size / processes) % accumulate != 0)
    throw Error("training.batch_size = " + std::to_string(batch_size) + " gives each of " + std::to_string(processes) +
                " processes " + std::to_string(batch_size / processes) + " rows, which do not split into " +
                "training.accumulate = " + std::to_string(accumulate) + " micro-batches");
}

void check_model_fits_data(const Config& trained, const Dataset& data) {
  int64_t channels = trained.model.in_channels, size = trained.data.image_size;
  if (data.channels() != channels || data.height() != size)
    throw Error("the model takes " + std::to_string(channels) + "x" + std::to_string(size) + "x" + std::to_string(size) +
                " inputs; " + data.name + " holds " + std::to_string(data.channels()) + "x" +
                std::to_string(data.height()) + "x" + std::to_string(data.width()) +
                " (a trained model's input cannot change; start a new run)");
}

}  // namespace flowlab
