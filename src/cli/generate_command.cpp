#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>

#include "flowlab/cli/commands.h"
#include "flowlab/cli/config_flags.h"
#include "flowlab/dist/runtime.h"
#include "flowlab/dist/world.h"
#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/image.h"
#include "flowlab/methods/registry.h"
#include "flowlab/recipe.h"
#include "flowlab/sampling/generation_batches.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/sampling_model.h"

namespace flowlab {
namespace {

std::vector<FlagBinding> sampling_flags() {
  return {
      {"num_samples", "sampling.num_samples", "images to generate"},
      {"steps", "sampling.steps", "solver steps (NFE per step depends on the sampler)"},
      {"sampler", "sampling.sampler", "cfm: euler, heun, midpoint, rk45; ddpm: ddpm, ddim; meanflow: meanflow"},
      {"cfg_scale", "sampling.cfg_scale", "classifier-free guidance scale (1 = off)"},
      {"batch_size", "sampling.batch_size", "images per network batch"},
      {"rtol", "sampling.rtol", "rk45 relative tolerance"},
      {"atol", "sampling.atol", "rk45 absolute tolerance"},
  };
}

// Labels for `n` samples: one class, one row per class, or classes in turn.
torch::Tensor make_labels(int64_t n, int64_t num_classes, int64_t class_label, bool class_grid,
                          int64_t per_class) {
  if (num_classes == 0) return torch::zeros({n}, torch::kInt64);
  if (class_label >= 0) return torch::full({n}, class_label, torch::kInt64);
  if (class_grid) return torch::arange(num_classes, torch::kInt64).repeat_interleave(per_class);
  return torch::arange(n, torch::kInt64).remainder(num_classes);
}

}  // namespace

int generate_command(int argc, char** argv) {
  cxxopts::Options options("generate_samples",
                           "Generate images from a flowlab checkpoint (the checkpoint knows its "
                           "model and method).");
  auto bindings = sampling_flags();
  append_device_flags(bindings);
  add_config_flags(options, bindings, false);
  options.add_options()("checkpoint", "checkpoint file (last.pt)", cxxopts::value<std::string>(), "CKPT")(
      "model", "optional check: the method (cfm) or backbone the checkpoint must hold",
      cxxopts::value<std::string>(), "NAME")(
      "class_label", "generate only this class", cxxopts::value<int64_t>(), "K")(
      "class_grid", "one row per class")(
      "samples_per_class", "images per row with --class_grid",
      cxxopts::value<int64_t>()->default_value("8"), "K")(
      "seed", "noise seed", cxxopts::value<int64_t>()->default_value("0"), "S")(
      "output_dir", "where grid.png (or class_grid.png) goes",
      cxxopts::value<std::string>()->default_value("samples"), "DIR")(
      "no_ema", "use the raw weights instead of the EMA weights")(
      "save_individual", "also write each image as images/NNNNN.png")(
      "trajectory", "also write trajectory.png: the first 8 samples at K+1 times from t=1 to 0",
      cxxopts::value<int>()->default_value("0"), "K")(
      "set", "override a sampling key, e.g. --set sampling.rtol=1e-4 (repeatable)",
      cxxopts::value<std::vector<std::string>>(), "KEY=VALUE")("h,help", "show this help");
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    std::cout << options.help();
    return 0;
  }
  if (!args.unmatched().empty()) throw Error("unexpected argument '" + args.unmatched()[0] + "'");
  if (!args.count("checkpoint")) throw Error("--checkpoint is required (a last.pt from a training run)");
  setup_logging();

  CheckpointReader reader(args["checkpoint"].as<std::string>());
  Config config = reader.config();
  apply_config_flags(config, args, bindings);
  validate(config);
  if (args.count("model")) {
    auto expected = args["model"].as<std::string>();
    if (expected != config.method.name && expected != config.model.type)
      throw Error("--model " + expected + ": the checkpoint holds a " + config.method.name + " " +
                  config.model.type + " model");
  }
  const auto& s = config.sampling;
  // Under a launcher, the processes share the batches and rank 0 writes the files.
  dist::Session session(resolve_device(config.training.device).type(), config.distributed.timeout);
  auto& world = dist::world();
  configure_threads(config.training.threads);
  auto device = resolve_device(config.training.device);  // the local rank's GPU under a launcher

  auto [model, method] = load_sampling_model(reader, config, !args.count("no_ema"), device);

  int64_t num_classes = model->num_classes();
  int64_t class_label = args.count("class_label") ? args["class_label"].as<int64_t>() : -1;
  if (class_label >= num_classes || (class_label >= 0 && num_classes == 0))
    throw Error("--class_label " + std::to_string(class_label) + ": the model has " +
                std::to_string(num_classes) + " classes");
  bool class_grid = args.count("class_grid") > 0 && num_classes > 0;
  int64_t per_class = args["samples_per_class"].as<int64_t>();
  int64_t n = class_grid ? num_classes * per_class : s.num_samples;
  auto labels = make_labels(n, num_classes, class_label, class_grid, per_class);

  auto output_dir = args["output_dir"].as<std::string>();
  if (world.is_main()) ensure_directory(output_dir);
  auto seed = static_cast<uint64_t>(args["seed"].as<int64_t>());
  int64_t c = config.model.in_channels, size = config.data.image_size;

  // Trajectory: the first batch's first 8 samples after every step, starting from the noise.
  int trajectory_points = args["trajectory"].as<int>();
  std::vector<std::pair<double, torch::Tensor>> trajectory;

  std::vector<torch::Tensor> images;
  int64_t nfe = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& batch : my_generation_batches(n, s.batch_size)) {
    int64_t start = batch.start, count = batch.count;
    auto noise = generation_noise(seed, batch, c, size).to(device);
    auto y = labels.slice(0, start, start + count).to(device);
    StepHook hook = nullptr;
    if (trajectory_points > 0 && start == 0) {
      trajectory.emplace_back(1.0, noise.slice(0, 0, 8).cpu());
      hook = [&trajectory](const torch::Tensor& x, double t) {
        trajectory.emplace_back(t, x.slice(0, 0, 8).cpu());
        return x;
      };
    }
    auto out = method->sample(*model, noise, y, s, hook);
    nfe = out.nfe;
    images.push_back(out.x.cpu());
    spdlog::info("generated {}/{}", start + count, n);
  }
  auto all = world.gather_rows(torch::cat(images));  // every process has a batch
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!world.is_main()) return 0;

  std::string grid_path = output_dir + (class_grid ? "/class_grid.png" : "/grid.png");
  if (class_grid) {
    auto names = reader.class_names();
    names.resize(static_cast<size_t>(num_classes));
    save_class_grid(grid_path, all, per_class, names);
  } else {
    save_grid(grid_path, all, 8);
  }
  if (args.count("save_individual")) {
    ensure_directory(output_dir + "/images");
    save_images(output_dir + "/images", all);
  }
  if (trajectory_points > 0) {
    std::vector<torch::Tensor> columns;
    for (int k = 0; k <= trajectory_points; ++k) {
      size_t idx = static_cast<size_t>(std::llround(
          static_cast<double>(k) * static_cast<double>(trajectory.size() - 1) / trajectory_points));
      columns.push_back(trajectory[idx].second);
    }
    // (points, rows, C, H, W) -> one row per sample, one column per time.
    auto strip = torch::stack(columns).transpose(0, 1).reshape({-1, c, size, size});
    save_grid(output_dir + "/trajectory.png", strip, trajectory_points + 1);
  }
  double rate = static_cast<double>(n) / seconds;
  std::cout << "wrote " << grid_path << ": " << n << " images, sampler " << s.sampler << ", NFE "
            << nfe << " per image, " << rate << " images/s\n";
  nlohmann::json report = {{"checkpoint", reader.path()}, {"num_samples", n},
                           {"sampler", s.sampler},        {"steps", s.steps},
                           {"cfg_scale", s.cfg_scale},    {"nfe", nfe},
                           {"seconds", seconds},          {"images_per_sec", rate},
                           {"processes", world.size()}};
  write_file_atomic(output_dir + "/generation.json", report.dump(2) + "\n");
  return 0;
}

}  // namespace flowlab
