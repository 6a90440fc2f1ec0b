#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "flowlab/cli/commands.h"
#include "flowlab/cli/config_flags.h"
#include "flowlab/data/dataset.h"
#include "flowlab/dist/runtime.h"
#include "flowlab/error.h"
#include "flowlab/eval/autoencoder.h"
#include "flowlab/io/files.h"
#include "flowlab/io/image.h"
#include "flowlab/recipe.h"
#include "flowlab/training/autoencoder_file.h"

namespace flowlab {
namespace {

cxxopts::Options evaluate_vae_options(std::vector<FlagBinding>& bindings) {
  cxxopts::Options options("evaluate_vae",
                           "Reconstruction PSNR and SSIM, rFID and latent statistics of an autoencoder "
                           "on held-out images, and a grid of originals over reconstructions.");
  bindings = dataset_flags();
  append_device_flags(bindings);
  add_config_flags(options, bindings);
  add_autoencoder_flag(options);
  options.add_options()(
      "num_images", "held-out images to reconstruct", cxxopts::value<int64_t>()->default_value("1000"), "N")(
      "batch_size", "images per batch", cxxopts::value<int64_t>()->default_value("50"), "N")(
      "inception_weights", "converted pytorch-fid weights for rFID (default $FLOWLAB_INCEPTION_WEIGHTS or "
                           "weights/inception_fid.pt)", cxxopts::value<std::string>(), "FILE")(
      "random_weights", "rFID with fixed hashed Inception weights (smoke tests only)")(
      "no_fid", "skip rFID")(
      "grid", "where the grid of originals over reconstructions goes",
      cxxopts::value<std::string>()->default_value("vae_reconstructions.png"), "PNG")(
      "output", "write the results as JSON here", cxxopts::value<std::string>(), "FILE")("h,help", "show this help");
  return options;
}

std::unique_ptr<FeatureExtractor> rfid_extractor(const cxxopts::ParseResult& args, torch::Device device) {
  if (args.count("no_fid")) return nullptr;
  if (args.count("random_weights")) return make_inception_extractor("random", device);
  auto weights = args.count("inception_weights") ? args["inception_weights"].as<std::string>()
                                                 : default_inception_weights();
  return make_inception_extractor(weights, device);
}

}  // namespace

int evaluate_vae_command(int argc, char** argv) {
  std::vector<FlagBinding> bindings;
  auto options = evaluate_vae_options(bindings);
  auto args = parse_command_line(options, argc, argv);
  if (!args) return 0;
  if (!args->count("vae")) throw Error("--vae is required (an autoencoder file)");
  Config config;
  config.data.split = "test";
  apply_config_flags(config, *args, bindings);
  validate_data(config);
  auto count = (*args)["num_images"].as<int64_t>(), batch = (*args)["batch_size"].as<int64_t>();
  if (count <= 0 || batch <= 0) throw Error("--num_images and --batch_size must be positive");
  auto grid = (*args)["grid"].as<std::string>();
  auto grid_dir = std::filesystem::path(grid).parent_path().string();
  check_directory_creatable(grid_dir.empty() ? "." : grid_dir);

  ProcessRuntime runtime(config);
  auto data = load_dataset(config.data);
  auto vae = load_autoencoder((*args)["vae"].as<std::string>(), data.channels(), config.data.image_size);
  auto extractor = rfid_extractor(*args, runtime.device());
  auto s = evaluate_autoencoder(*vae, data, count, batch, extractor.get(), runtime.device());

  save_grid(grid, torch::cat({s.originals, s.reconstructions}), s.originals.size(0));
  std::printf("images:        %lld (%s %s, %dx%d)\n", static_cast<long long>(s.images), config.data.dataset.c_str(),
              config.data.split.c_str(), config.data.image_size, config.data.image_size);
  std::printf("PSNR:          %.2f dB\nSSIM:          %.4f\n", s.psnr, s.ssim);
  if (extractor) std::printf("rFID:          %.3f (%s)\n", s.rfid, extractor->name().c_str());
  std::printf("latents:       mean %.4f, std %.4f (scaling_factor 1/std = %.5f; this file's: %.5f)\n",
              s.latent_mean, s.latent_std, 1.0 / s.latent_std, vae->options().scaling_factor);
  std::printf("grid:          %s\n", grid.c_str());
  nlohmann::json report = {{"vae", (*args)["vae"].as<std::string>()}, {"images", s.images},
                           {"dataset", config.data.dataset}, {"split", config.data.split},
                           {"image_size", config.data.image_size}, {"psnr", s.psnr}, {"ssim", s.ssim},
                           {"latent_mean", s.latent_mean}, {"latent_std", s.latent_std},
                           {"suggested_scaling_factor", 1.0 / s.latent_std}};
  if (extractor) report["rfid"] = s.rfid;
  if (args->count("output")) write_file_atomic((*args)["output"].as<std::string>(), report.dump(2) + "\n");
  return 0;
}

}  // namespace flowlab
