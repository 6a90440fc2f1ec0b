#include "flowlab/cli/config_flags.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "flowlab/data/registry.h"
#include "flowlab/error.h"
#include "flowlab/methods/registry.h"
#include "flowlab/models/dit.h"
#include "flowlab/models/registry.h"

namespace flowlab {
namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::vector<std::string> dit_size_names() {
  std::vector<std::string> names;
  for (const auto& s : dit_sizes()) names.push_back(s.name);
  return names;
}

}  // namespace

std::vector<FlagBinding> training_flags(const std::string& method) {
  std::vector<FlagBinding> flags = {
      {"epochs", "training.epochs", "training epochs (ignored when --steps > 0)"},
      {"batch_size", "training.batch_size", "images per optimizer step"},
      {"lr", "training.lr", "peak learning rate (AdamW)"},
      {"cfg_dropout", "training.cfg_dropout", "probability of replacing a label by the null class"},
      {"output_dir", "training.output_dir", "directory for checkpoints, samples and metrics"},
      {"steps", "training.steps", "optimizer steps (overrides --epochs when > 0)"},
      {"seed", "training.seed", "random seed"},
      {"init_from", "training.init_from",
       "start from these weights (not a resume): a checkpoint's EMA weights, or a .safetensors file by "
       "name (a run's weights_ema.safetensors; for train_vae also Stable Diffusion's VAE)"},
      {"final_grid", "training.final_grid",
       "true: when training ends the EMA model samples a grid, 8 per class (up to 16 classes) at "
       "sampling.steps with CFG (CIFAR-10 recipe: 80 images x 50 steps x 2 passes, minutes on a CPU "
       "for DiT); false: skip it"},
      {"model", "model.type", "backbone: " + joined(network_names())},
      {"variant", "model.variant", "named size for dit: " + joined(dit_size_names()) +
                                       " (default " + kDefaultDiTSize + ")"},
      {"dataset", "data.dataset", joined(dataset_names())},
      {"data_dir", "data.data_dir", "dataset directory"},
      {"random_flip", "data.random_flip",
       "random horizontal flips: auto (every dataset but MNIST, whose digits a mirror changes), true or false"},
  };
  for (const auto& flag : method_entry(method).flags) flags.push_back(flag);
  append_device_flags(flags);
  return flags;
}

void append_device_flags(std::vector<FlagBinding>& bindings) {
  bindings.insert(bindings.end(),
                  {
                      {"device", "training.device", "cpu or cuda"},
                      {"threads", "training.threads", "CPU threads (0 = all cores)"},
                      {"precision", "compute.precision",
                       "fp32, or bf16: network passes under bf16 autocast (weights stay fp32)"},
                      {"channels_last", "compute.channels_last",
                       "true: convolution weights and activations in NHWC layout"},
                      {"cuda_graphs", "compute.cuda_graphs",
                       "true (CUDA only): training steps and fixed-step sampling recorded once as CUDA "
                       "graphs and replayed"},
                  });
}

std::vector<FlagBinding> dataset_flags() {
  return {
      {"dataset", "data.dataset", joined(dataset_names())},
      {"data_dir", "data.data_dir", "dataset directory"},
      {"split", "data.split", "train or test"},
      {"image_size", "data.image_size", "images are fitted to this size (a latent model: its latent grid)"},
  };
}

void add_autoencoder_flag(cxxopts::Options& options) {
  options.add_options()("vae", "the autoencoder: a train_vae checkpoint or weights_ema.safetensors, or Stable "
                               "Diffusion's diffusion_pytorch_model.safetensors with its config.json beside it",
                        cxxopts::value<std::string>(), "FILE");
}

void add_weight_flags(cxxopts::Options& options) {
  options.add_options()("no_ema", "use the raw weights instead of the EMA weights")(
      "ema", "the EMA of this decay, for a run with several (training.ema_decays; default: the first)",
      cxxopts::value<double>(), "DECAY");
}

WeightChoice weight_choice(const cxxopts::ParseResult& args) {
  if (args.count("no_ema") && args.count("ema")) throw Error("--no_ema and --ema pick different weights; give one");
  return {!args.count("no_ema"), args.count("ema") ? args["ema"].as<double>() : 0.0};
}

void add_latent_model_flags(cxxopts::Options& options) {
  options.add_options()("vae", "a latent model's autoencoder, where it is not at the path the checkpoint records",
                        cxxopts::value<std::string>(), "FILE")(
      "allow_vae_mismatch", "use an autoencoder whose SHA-256 differs from the recorded one");
}

void set_latent_model_flags(SamplingCheckpoint& checkpoint, const cxxopts::ParseResult& args) {
  if (args.count("vae")) checkpoint.vae_file = args["vae"].as<std::string>();
  checkpoint.allow_vae_mismatch = args.count("allow_vae_mismatch") > 0;
}

void add_config_flags(cxxopts::Options& options, const std::vector<FlagBinding>& bindings,
                      bool with_config_file) {
  auto adder = options.add_options("Config");
  if (with_config_file) {
    adder("config", "YAML config file", cxxopts::value<std::string>(), "FILE");
    adder("set", "override any config key, e.g. --set training.lr=1e-4 (repeatable)",
          cxxopts::value<std::vector<std::string>>(), "KEY=VALUE");
  }
  for (const auto& b : bindings)
    adder(b.flag, b.help + " [" + b.key + "]", cxxopts::value<std::string>(), "VALUE");
}

void apply_config_flags(Config& config, const cxxopts::ParseResult& args,
                        const std::vector<FlagBinding>& bindings) {
  if (args.count("config")) apply_config_file(config, args["config"].as<std::string>());
  for (const auto& b : bindings)
    if (args.count(b.flag)) set_config_value(config, b.key, args[b.flag].as<std::string>());
  if (args.count("set"))
    for (const auto& assignment : args["set"].as<std::vector<std::string>>())
      apply_override(config, assignment);
}

std::string config_keys_help() {
  std::string out = "Config keys (YAML sections, or --set section.key=value):\n";
  std::string section, line;
  for (const auto& key : config_keys()) {
    auto dot = key.find('.');
    auto s = key.substr(0, dot);
    if (s != section) {
      if (!line.empty()) out += line + "\n";
      section = s;
      line = "  " + s + ":";
    }
    line += " " + key.substr(dot + 1);
  }
  return out + line + "\n";
}

std::optional<cxxopts::ParseResult> parse_command_line(
    cxxopts::Options& options, int argc, char** argv, const std::string& extra_help,
    const std::map<std::string, std::string>& value_hints) {
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    std::cout << options.help() << extra_help;
    return std::nullopt;
  }
  if (!args.unmatched().empty()) {
    std::string hint;
    for (int i = 1; i < argc; ++i)
      if (args.unmatched()[0] == argv[i] && std::string(argv[i - 1]).rfind("--", 0) == 0) {
        auto it = value_hints.find(std::string(argv[i - 1]).substr(2));
        if (it != value_hints.end()) hint = " (" + it->second + ")";
      }
    throw Error("unexpected argument '" + args.unmatched()[0] + "'" + hint);
  }
  setup_logging();
  return args;
}

void setup_logging() {
  static bool done = false;
  if (done) return;
  done = true;
  auto logger = spdlog::stderr_color_mt("flowlab");
  logger->set_pattern("[%H:%M:%S] %^%v%$");
  spdlog::set_default_logger(logger);
}

}  // namespace flowlab
