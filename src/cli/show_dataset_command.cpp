#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>

#include "flowlab/cli/commands.h"
#include "flowlab/cli/config_flags.h"
#include "flowlab/data/dataset.h"
#include "flowlab/error.h"
#include "flowlab/io/image.h"
#include "flowlab/recipe.h"
#include "flowlab/training/latent_codec.h"

namespace flowlab {

int show_dataset_command(int argc, char** argv) {
  cxxopts::Options options("show_dataset",
                           "Load a dataset as training sees it: counts, classes, first labels, "
                           "load time, and a grid of the first 64 images.");
  auto bindings = dataset_flags();
  add_config_flags(options, bindings);
  options.add_options()("grid", "where to write the grid of the first 64 images",
                        cxxopts::value<std::string>()->default_value("dataset_grid.png"), "PNG")(
      "h,help", "show this help");
  auto parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const auto& args = *parsed;
  Config config;
  apply_config_flags(config, args, bindings);
  validate(config);

  auto t0 = std::chrono::steady_clock::now();
  auto data = load_dataset(config.data);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::cout << "dataset:     " << data.name << " (" << config.data.split << ")\n";
  std::cout << "images:      " << data.size() << "\n";
  std::cout << "image shape: " << data.channels() << "x" << data.height() << "x" << data.width()
            << " (C x H x W)\n";
  if (data.num_classes() == 0) {
    std::cout << "classes:     none (unconditional)\n";
  } else {
    auto counts = data.class_counts();
    std::cout << "classes:     " << data.num_classes() << "\n";
    for (int64_t c = 0; c < data.num_classes(); ++c)
      std::cout << "  " << c << " " << data.class_names[c] << ": " << counts[c] << "\n";
  }
  std::cout << "first labels:";
  for (int64_t i = 0; i < std::min<int64_t>(10, data.size()); ++i)
    std::cout << " " << data.labels[i].item<int64_t>();
  std::cout << "\n";
  std::printf("load time:   %.2f s\n", seconds);

  auto first = data.batch(torch::arange(std::min<int64_t>(64, data.size()))).images;
  if (data.is_latent()) {
    // The latents' means, decoded by the autoencoder they belong to.
    first = LatentCodec(data.autoencoder, torch::kCPU).decode(first).clamp(-1, 1);
  }
  auto grid_path = args["grid"].as<std::string>();
  save_grid(grid_path, first, 8);
  std::cout << "grid:        " << grid_path << "\n";
  return 0;
}

}  // namespace flowlab
