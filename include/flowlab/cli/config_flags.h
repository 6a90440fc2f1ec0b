// Command-line flags that map onto config keys. A flag overrides the YAML only when given.
// Order: base config -> --config FILE -> named flags -> --set section.key=value -> validate().
#pragma once
// `--set model.channel_mults=[1,2]` is one value: repeated flags, not commas, make a list.
#define CXXOPTS_VECTOR_DELIMITER '\0'
#include <cxxopts.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "flowlab/config.h"
#include "flowlab/training/sampling_model.h"

namespace flowlab {

using FlagBinding = ConfigFlag;

// The training flags (--epochs, --batch_size, --lr, --cfg_dropout, --output_dir), the common
// ones (--dataset, --data_dir, --steps, ...), and the method's own (--timesteps for ddpm).
std::vector<FlagBinding> training_flags(const std::string& method);
// --device, --threads, --precision, --channels_last: where and how the network runs.
void append_device_flags(std::vector<FlagBinding>& bindings);
// Dataset selection flags (--dataset, --data_dir, --split, --image_size).
std::vector<FlagBinding> dataset_flags();

// --vae FILE for the commands that read an autoencoder (evaluate_vae, encode_latents).
void add_autoencoder_flag(cxxopts::Options& options);
// --vae FILE and --allow_vae_mismatch for the commands that sample a latent model (generate_samples,
// evaluate_fid, inpaint), and their effect on a checkpoint before its load().
void add_latent_model_flags(cxxopts::Options& options);
void set_latent_model_flags(SamplingCheckpoint& checkpoint, const cxxopts::ParseResult& args);

// --no_ema and --ema DECAY for the commands that sample a checkpoint, and the weights they pick
// (one clear line when both are given).
void add_weight_flags(cxxopts::Options& options);
WeightChoice weight_choice(const cxxopts::ParseResult& args);

// Adds each binding as a string-valued flag, plus --config and --set when with_config_file.
void add_config_flags(cxxopts::Options& options, const std::vector<FlagBinding>& bindings,
                      bool with_config_file = true);

// Applies --config (if bound and given), the given flags and --set over `config`.
void apply_config_flags(Config& config, const cxxopts::ParseResult& args,
                        const std::vector<FlagBinding>& bindings);

// "Config keys (override with --set section.key=value): ..." for --help.
std::string config_keys_help();

// The prologue every command shares. Parses argv; on --help prints the help and `extra_help` and
// returns nothing (the command then returns 0); a left-over argument is an Error, which says how
// to give a value to a flag named in `value_hints` ({"resume", "a checkpoint goes as
// --resume=CKPT"}) when it follows that flag; sets up logging.
std::optional<cxxopts::ParseResult> parse_command_line(
    cxxopts::Options& options, int argc, char** argv, const std::string& extra_help = "",
    const std::map<std::string, std::string>& value_hints = {});

// spdlog to stderr with a short time stamp.
void setup_logging();

}  // namespace flowlab
