#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>

#include "flowlab/cli/commands.h"
#include "flowlab/cli/config_flags.h"
#include "flowlab/dist/runtime.h"
#include "flowlab/dist/world.h"
#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/image.h"
#include "flowlab/io/gif.h"
#include "flowlab/io/npz.h"
#include "flowlab/methods/registry.h"
#include "flowlab/recipe.h"
#include "flowlab/sampling/samplers.h"
#include "flowlab/sampling/sde_sampler.h"
#include "flowlab/sampling/time_grids.h"
#include "flowlab/sampling/trajectory.h"
#include "flowlab/tasks/couplings.h"
#include "flowlab/tasks/generate.h"
#include "flowlab/training/sampling_model.h"

namespace flowlab {
namespace {

std::vector<FlagBinding> sampling_flags() {
  return {
      {"num_samples", "sampling.num_samples", "images to generate"},
      {"steps", "sampling.steps", "solver steps (NFE per step depends on the sampler)"},
      {"sampler", "sampling.sampler", "by the checkpoint's method; see the list below"},
      {"schedule", "sampling.schedule", "time grid of the fixed-step samplers; see the list below"},
      {"cfg_scale", "sampling.cfg_scale", "classifier-free guidance scale (1 = off)"},
      {"cfg_t_min", "sampling.cfg_t_min", "guide only the steps with t >= this (t = 1 is noise)"},
      {"cfg_t_max", "sampling.cfg_t_max", "guide only the steps with t <= this"},
      {"batch_size", "sampling.batch_size", "images per network batch"},
      {"rtol", "sampling.rtol", "rk45 relative tolerance"},
      {"atol", "sampling.atol", "rk45 absolute tolerance"},
  };
}

// The samplers of every generative method, the time grids and the SDE forms, one line each, from
// their registries, after the flags.
std::string sampling_help() {
  std::string out = "\nSamplers (--sampler), by the checkpoint's method:\n";
  for (const auto& method : method_entries())
    if (!method.samplers.empty() && method.name != "vae") out += method.name + ":\n" + help_lines(method.samplers);
  return out + "\nTime grids (--schedule) of the fixed-step cfm and meanflow samplers:\n" + help_lines(time_grids()) +
         "\nDiffusion coefficients of the sde sampler (--set sampling.sde_diffusion=NAME):\n" +
         help_lines(sde_diffusions());
}

// Labels for `n` samples: one class, one row per class, or classes in turn.
torch::Tensor make_labels(int64_t n, int64_t num_classes, int64_t class_label, bool class_grid,
                          int64_t per_class) {
  if (num_classes == 0) return torch::zeros({n}, torch::kInt64);
  if (class_label >= 0) return torch::full({n}, class_label, torch::kInt64);
  if (class_grid) return torch::arange(num_classes, torch::kInt64).repeat_interleave(per_class);
  return torch::arange(n, torch::kInt64).remainder(num_classes);
}

// --noise FILE.npy: float32 (N, C, H, W) of the model's input shape.
torch::Tensor read_noise(const std::string& path, const Config& config) {
  auto noise = read_npy(path);
  const std::vector<int64_t> shape = {config.model.in_channels, config.data.image_size, config.data.image_size};
  if (noise.scalar_type() != torch::kFloat32 || noise.dim() != 4 || noise.size(0) < 1 ||
      noise.sizes().slice(1) != c10::IntArrayRef(shape))
    throw Error("--noise " + path + " holds " + c10::toString(noise.scalar_type()) + " " + c10::str(noise.sizes()) +
                "; the model samples float32 (N, " + std::to_string(shape[0]) + ", " + std::to_string(shape[1]) + ", " +
                std::to_string(shape[2]) + ")");
  return noise;
}

// --labels FILE.npy: int64 (N,), each a class of the model or its null label.
torch::Tensor read_labels(const std::string& path, int64_t n, int64_t num_classes) {
  auto labels = read_npy(path);
  if (labels.scalar_type() != torch::kInt64 || labels.dim() != 1 || labels.size(0) != n)
    throw Error("--labels " + path + " holds " + c10::toString(labels.scalar_type()) + " " + c10::str(labels.sizes()) +
                "; " + std::to_string(n) + " samples need int64 (" + std::to_string(n) + ",)");
  if (labels.numel() > 0 && (labels.min().item<int64_t>() < 0 || labels.max().item<int64_t>() > num_classes))
    throw Error("--labels " + path + ": labels run from 0 to " + std::to_string(num_classes) + " (the null label)");
  return labels;
}

// A file's folder must be writable before the long work.
void check_output_file(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path().string();
  check_directory_creatable(parent.empty() ? "." : parent);
}

// generate_samples' flags; `bindings` gets those that set config keys.
cxxopts::Options generate_options(std::vector<FlagBinding>& bindings) {
  cxxopts::Options options("generate_samples",
                           "Generate images from a flowlab checkpoint (the checkpoint knows its "
                           "model and method).");
  bindings = sampling_flags();
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
      "save_individual", "also write each image as images/NNNNN.png")(
      "npz", "also write the images as the ADM evaluation suite reads them: arr_0 uint8 (N, H, W, 3) "
             "(grey images repeated to three channels), arr_1 the int64 labels of a conditional model",
      cxxopts::value<std::string>(), "FILE")(
      "noise", "the initial noise: a float32 .npy of shape (N, C, H, W); N sets the sample count",
      cxxopts::value<std::string>(), "FILE")(
      "labels", "the class of each sample: an int64 .npy of shape (N,) (the null label: unguided)",
      cxxopts::value<std::string>(), "FILE")(
      "raw", "also write the sampler's output in the model's space (latents before decoding, nothing "
             "clamped) as a float32 .npy", cxxopts::value<std::string>(), "FILE")(
      "couplings", "instead of images, write reflow's training data to DIR: each batch's noise and the "
                   "image the sampler makes of it (a CFM model, a deterministic sampler); rerun the same "
                   "command to resume; train on it with --dataset couplings --data_dir DIR",
      cxxopts::value<std::string>(), "DIR")(
      "trajectory", "also write trajectory.png: the first 8 samples at K+1 times from t=1 to 0",
      cxxopts::value<int>()->default_value("0"), "K")(
      "gif", "with --trajectory K: also write the K+1 times as an animated GIF, the first 8 samples "
             "from noise to image", cxxopts::value<std::string>(), "FILE")(
      "set", "override a sampling key, e.g. --set sampling.rtol=1e-4 (repeatable)",
      cxxopts::value<std::vector<std::string>>(), "KEY=VALUE")("h,help", "show this help");
  add_latent_model_flags(options);
  add_weight_flags(options);
  return options;
}

// What to sample: the noise (undefined: drawn per batch), every sample's label, their count, and
// whether they form a class grid of per_class samples per class.
struct SampleRequest {
  torch::Tensor noise, labels;
  int64_t count = 0;
  bool class_grid = false;
  int64_t per_class = 0;
};

SampleRequest sample_request(const cxxopts::ParseResult& args, const Config& config, int64_t num_classes) {
  int64_t class_label = args.count("class_label") ? args["class_label"].as<int64_t>() : -1;
  if (class_label >= num_classes || (class_label >= 0 && num_classes == 0))
    throw Error("--class_label " + std::to_string(class_label) + ": the model has " + std::to_string(num_classes) +
                " classes");
  SampleRequest r;
  r.class_grid = args.count("class_grid") > 0 && num_classes > 0;
  r.per_class = args["samples_per_class"].as<int64_t>();
  if (args.count("noise") && r.class_grid) throw Error("--noise sets the samples; --class_grid draws its own");
  if (args.count("labels") && (r.class_grid || class_label >= 0))
    throw Error("--labels gives every sample's class; leave out --class_grid and --class_label");
  if (args.count("noise")) r.noise = read_noise(args["noise"].as<std::string>(), config);
  r.count = r.noise.defined() ? r.noise.size(0) : r.class_grid ? num_classes * r.per_class : config.sampling.num_samples;
  r.labels = args.count("labels") ? read_labels(args["labels"].as<std::string>(), r.count, num_classes)
                                  : make_labels(r.count, num_classes, class_label, r.class_grid, r.per_class);
  return r;
}

// The images as OpenAI's ADM evaluation suite reads them: arr_0 uint8 (N, H, W, 3), grey
// repeated; arr_1 the labels of a conditional model (undefined: none).
void write_adm_npz(const std::string& path, const torch::Tensor& images, const torch::Tensor& labels) {
  auto pixels = float_to_uint8(images).permute({0, 2, 3, 1});  // (N, H, W, C)
  std::map<std::string, torch::Tensor> arrays = {{"arr_0", pixels.expand({-1, -1, -1, 3}).contiguous()}};
  if (labels.defined()) arrays["arr_1"] = labels;
  write_npz(path, arrays);
}

// trajectory.png (the recorded samples at `points` + 1 times), and the GIF of those times when
// gif_path is given: each frame one row of the samples, enlarged to at least 256 pixels across.
void write_trajectory(const SamplingCheckpoint& checkpoint, const TrajectoryRecorder& trajectory, int points,
                      const std::string& output_dir, const std::string& gif_path, torch::Device device) {
  save_grid(output_dir + "/trajectory.png", checkpoint.to_pixels(trajectory.strip(points).to(device)).cpu(),
            points + 1);
  if (gif_path.empty()) return;
  std::vector<torch::Tensor> frames;
  for (const auto& states : trajectory.frames(points)) {
    auto row = make_grid(checkpoint.to_pixels(states.to(device)).cpu(), states.size(0));
    const int64_t scale = std::max<int64_t>(1, (256 + row.size(2) - 1) / row.size(2));
    frames.push_back(float_to_uint8(row.repeat_interleave(scale, 1).repeat_interleave(scale, 2)));
  }
  write_gif(gif_path, frames);
}

// --couplings DIR: reflow's noise-image pairs instead of images (tasks/couplings.h).
int generate_couplings(const SamplingCheckpoint& checkpoint, const SampleRequest& request,
                       const cxxopts::ParseResult& args, torch::Device device) {
  if (request.noise.defined()) throw Error("--couplings draws its noise from --seed; leave out --noise");
  const auto dir = args["couplings"].as<std::string>();
  auto done = write_couplings(checkpoint, request.labels, static_cast<uint64_t>(args["seed"].as<int64_t>()), dir, device);
  dist::world().barrier();
  if (dist::world().is_main())
    std::cout << "wrote " << request.count << " couplings to " << dir << ": " << done.written << " parts made now, "
              << done.kept << " already there\n";
  return 0;
}

}  // namespace

int generate_command(int argc, char** argv) {
  std::vector<FlagBinding> bindings;
  auto options = generate_options(bindings);
  auto args = parse_command_line(options, argc, argv, sampling_help());
  if (!args) return 0;
  if (!args->count("checkpoint")) throw Error("--checkpoint is required (a last.pt from a training run)");

  auto checkpoint = open_for_sampling((*args)["checkpoint"].as<std::string>(),
                                      [&](Config& c) { apply_config_flags(c, *args, bindings); });
  const auto& config = checkpoint.config;
  if (args->count("model")) {
    auto expected = (*args)["model"].as<std::string>();
    if (expected != config.method.name && expected != config.model.type)
      throw Error("--model " + expected + ": the checkpoint holds a " + config.method.name + " " +
                  config.model.type + " model");
  }
  // Under a launcher, the processes share the batches and rank 0 writes the files.
  ProcessRuntime runtime(config);
  auto& world = dist::world();
  set_latent_model_flags(checkpoint, *args);
  checkpoint.load(weight_choice(*args), runtime.device());

  const int64_t num_classes = checkpoint.model->num_classes();
  auto request = sample_request(*args, config, num_classes);
  if (args->count("couplings")) return generate_couplings(checkpoint, request, *args, runtime.device());
  const auto& [noise, labels, n, class_grid, per_class] = request;
  auto output_dir = (*args)["output_dir"].as<std::string>();
  if (world.is_main()) ensure_directory(output_dir);
  std::string npz_path = args->count("npz") ? (*args)["npz"].as<std::string>() : "";
  std::string raw_path = args->count("raw") ? (*args)["raw"].as<std::string>() : "";
  for (const auto& path : {npz_path, raw_path})
    if (!path.empty()) check_output_file(path);
  int trajectory_points = (*args)["trajectory"].as<int>();
  TrajectoryRecorder trajectory;
  std::string gif_path = args->count("gif") ? (*args)["gif"].as<std::string>() : "";
  if (!gif_path.empty()) {
    if (trajectory_points < 1) throw Error("--gif needs --trajectory K (its K + 1 frames)");
    check_gif_available();
    check_output_file(gif_path);
  }

  auto t0 = std::chrono::steady_clock::now();
  auto generated = generate(checkpoint, labels, static_cast<uint64_t>((*args)["seed"].as<int64_t>()), noise,
                            !raw_path.empty(), runtime.device(), trajectory_points > 0 ? &trajectory : nullptr);
  const auto& all = generated.images;
  const int64_t nfe = generated.nfe;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!world.is_main()) return 0;
  if (!raw_path.empty()) write_npy(raw_path, generated.raw.to(torch::kFloat32));

  std::string grid_path = output_dir + (class_grid ? "/class_grid.png" : "/grid.png");
  if (class_grid) {
    auto names = checkpoint.reader->class_names();
    names.resize(static_cast<size_t>(num_classes));
    save_class_grid(grid_path, all, per_class, names);
  } else {
    save_grid(grid_path, all, 8);
  }
  if (args->count("save_individual")) {
    ensure_directory(output_dir + "/images");
    save_images(output_dir + "/images", all);
  }
  if (!npz_path.empty()) write_adm_npz(npz_path, all, num_classes > 0 ? labels : torch::Tensor());
  if (trajectory_points > 0)
    write_trajectory(checkpoint, trajectory, trajectory_points, output_dir, gif_path, runtime.device());
  const auto& s = config.sampling;
  double rate = static_cast<double>(n) / seconds;
  std::cout << "wrote " << grid_path << ": " << n << " images, sampler " << s.sampler << ", NFE " << nfe
            << " per image (" << generated.evaluations << " network evaluation"
            << (generated.evaluations == 1 ? "" : "s") << "), " << rate << " images/s\n";
  nlohmann::json report = {{"checkpoint", checkpoint.reader->path()}, {"num_samples", n},
                           {"sampler", s.sampler},        {"steps", s.steps},
                           {"cfg_scale", s.cfg_scale},    {"nfe", nfe},
                           {"network_evaluations", generated.evaluations},
                           {"seconds", seconds},          {"images_per_sec", rate},
                           {"processes", world.size()}};
  write_file_atomic(output_dir + "/generation.json", report.dump(2) + "\n");
  return 0;
}

}  // namespace flowlab
