#include <spdlog/spdlog.h>

#include <filesystem>

#include "flowlab/cli/commands.h"
#include "flowlab/cli/config_flags.h"
#include "flowlab/data/dataset.h"
#include "flowlab/dist/runtime.h"
#include "flowlab/dist/world.h"
#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/sha256.h"
#include "flowlab/recipe.h"
#include "flowlab/tasks/encode_latents.h"
#include "flowlab/training/autoencoder_file.h"

namespace flowlab {
namespace {

cxxopts::Options encode_latents_options(std::vector<FlagBinding>& bindings) {
  cxxopts::Options options("encode_latents",
                           "Encode a dataset once through an autoencoder: each image's posterior mean and std, "
                           "its label and the autoencoder's identity, in shards under --output. A stopped run "
                           "resumes from the shards it finished.");
  bindings = dataset_flags();
  append_device_flags(bindings);
  add_config_flags(options, bindings);
  add_autoencoder_flag(options);
  options.add_options()(
      "output", "directory of the latent dataset (latents.json and shard-*.safetensors)",
      cxxopts::value<std::string>(), "DIR")(
      "flips", "also encode each image's horizontal mirror, so training can flip latents")(
      "normalize", "map the latents to mean 0 and std 1 over this dataset (shift and scale recorded in the index) "
                   "instead of the autoencoder's scaling_factor and shift_factor")(
      "batch_size", "images per encoder batch", cxxopts::value<int64_t>()->default_value("64"), "N")(
      "shard_size", "images per shard file", cxxopts::value<int64_t>()->default_value("10000"), "N")(
      "h,help", "show this help");
  return options;
}

}  // namespace

int encode_latents_command(int argc, char** argv) {
  std::vector<FlagBinding> bindings;
  auto options = encode_latents_options(bindings);
  auto args = parse_command_line(options, argc, argv);
  if (!args) return 0;
  if (!args->count("vae")) throw Error("--vae is required (an autoencoder file)");
  if (!args->count("output")) throw Error("--output is required (a directory for the latents)");
  Config config;
  apply_config_flags(config, *args, bindings);
  validate_data(config);
  EncodeLatentsOptions encode;
  encode.batch_size = (*args)["batch_size"].as<int64_t>();
  encode.shard_size = (*args)["shard_size"].as<int64_t>();
  encode.flips = args->count("flips") > 0;
  encode.normalize = args->count("normalize") > 0;
  if (encode.batch_size <= 0 || encode.shard_size <= 0) throw Error("--batch_size and --shard_size must be positive");
  auto output = (*args)["output"].as<std::string>();
  check_directory_creatable(output);

  ProcessRuntime runtime(config);
  auto data = load_dataset(config.data);
  auto path = (*args)["vae"].as<std::string>();
  auto vae = load_autoencoder(path, data.channels(), config.data.image_size);
  AutoencoderIdentity identity{std::filesystem::absolute(path).string(), sha256_file(path),
                               vae->options().scaling_factor, vae->options().shift_factor};
  LatentSource source{config.data.dataset, config.data.split, resolved_fit(config.data), config.data.image_size};
  spdlog::info("encoding {} {} images ({}x{}) through {} (SHA-256 {}) into {}", data.size(), config.data.split,
               data.height(), data.width(), path, identity.sha256.substr(0, 12), output);
  LatentStatistics stats;
  auto encoded = encode_latents(*vae, identity, data, source, encode, output, runtime.device(), &stats);
  spdlog::info("done: {} images in {} ({} encoded by this process now; shards of an earlier run are kept)",
               data.size(), output, encoded);
  if (dist::world().is_main())
    spdlog::info("latents: mean {:.4f}, std {:.4f}; the model sees (z - {:.5g}) * {:.5g}", stats.mean, stats.std,
                 encode.normalize ? stats.mean : identity.shift_factor,
                 encode.normalize ? 1.0 / stats.std : identity.scaling_factor);
  return 0;
}

}  // namespace flowlab
