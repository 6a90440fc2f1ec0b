#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "flowlab/cli/commands.h"
#include "flowlab/cli/config_flags.h"
#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/recipe.h"
#include "flowlab/tasks/published_models.h"
#include "flowlab/training/checkpoint.h"

namespace flowlab {

int import_checkpoint_command(int argc, char** argv) {
  cxxopts::Options options(
      "import_checkpoint",
      "Import a published network as its authors released it (a torch.save file of its state dict) into a "
      "flowlab checkpoint that generate_samples, evaluate_fid, inpaint and train_* --init_from take.\n"
      "  dit:  DiT (Peebles & Xie 2023), e.g. DiT-XL-2-256x256.pt: DDPM, 1,000 linear-beta steps, learned variance\n"
      "  sit:  SiT (Ma et al. 2024), e.g. SiT-XL-2-256.pt: a flow in SiT's time (0 = noise)\n"
      "  repa: REPA's SiT (Yu et al. 2025): a flow in flowlab's time; its projector heads are left out\n"
      "The sizes come from the tensors; the sampling section is the paper's protocol (docs/published-models.md).");
  options.add_options()("format", "dit | sit | repa", cxxopts::value<std::string>(), "NAME")(
      "weights", "the authors' .pt file (a training checkpoint's \"ema\" weights are taken)",
      cxxopts::value<std::string>(), "FILE")(
      "vae", "the autoencoder its latents decode with: a .safetensors file or a diffusers folder (sd-vae-ft-ema)",
      cxxopts::value<std::string>(), "FILE_OR_DIR")(
      "num_heads", "attention heads, for a width that is none of DiT's named sizes",
      cxxopts::value<int>()->default_value("0"), "N")("output", "the flowlab checkpoint to write",
                                                        cxxopts::value<std::string>(), "FILE")(
      "h,help", "show this help");
  auto parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const auto& args = *parsed;
  for (const char* needed : {"format", "weights", "output"})
    if (!args.count(needed)) throw Error(std::string("--") + needed + " is required (see --help)");

  ImportRequest request;
  request.format = args["format"].as<std::string>();
  request.weights = args["weights"].as<std::string>();
  if (args.count("vae")) request.vae = args["vae"].as<std::string>();
  request.num_heads = args["num_heads"].as<int>();
  const auto output = args["output"].as<std::string>();
  check_directory_creatable(std::filesystem::path(output).parent_path().empty()
                                ? std::string(".")
                                : std::filesystem::path(output).parent_path().string());

  auto imported = import_published_model(request);
  validate(imported.config);
  // The weights must fit flowlab's network built from the config before anything is written.
  auto model = make_backbone(imported.config);
  load_named_weights(*model, imported.weights, request.weights);
  save_weights_checkpoint(output, imported.config, imported.weights);

  const auto& m = imported.config.model;
  std::cout << request.format << " network: width " << m.hidden_size << ", depth " << m.depth << ", " << m.num_heads
            << " heads, patch " << m.patch_size << ", " << m.in_channels << "x" << imported.config.data.image_size << "x"
            << imported.config.data.image_size << " latents, " << m.num_classes << " classes"
            << (m.learn_sigma ? ", learned variance" : "") << "\n"
            << imported.published_parameters << " parameters (pos_embed included)\n";
  if (!imported.left_out.empty()) std::cout << imported.left_out.size() << " projector tensors left out\n";
  std::cout << "wrote " << output << "\n";
  return 0;
}

}  // namespace flowlab
