#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>

#include "flowlab/cli/commands.h"
#include "flowlab/cli/config_flags.h"
#include "flowlab/data/dataset.h"
#include "flowlab/dist/launch_env.h"
#include "flowlab/dist/runtime.h"
#include "flowlab/dist/world.h"
#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/methods/registry.h"
#include "flowlab/recipe.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/stop_signal.h"
#include "flowlab/training/trainer.h"
#include "flowlab/training/training_data.h"

namespace flowlab {

int train_command(int argc, char** argv, const std::string& method) {
  std::string program = "train_" + method;
  cxxopts::Options options(program, "Train a " + method +
                                        " model. Flags override --config, --set overrides both.");
  auto bindings = training_flags(method);
  add_config_flags(options, bindings);
  options.add_options()(
      "resume", "continue from OUTPUT_DIR/last.pt, or from the checkpoint given",
      cxxopts::value<std::string>()->implicit_value(""), "[CKPT]")("h,help", "show this help");
  auto parsed = parse_command_line(options, argc, argv, "\n" + config_keys_help(),
                                   {{"resume", "a checkpoint goes as --resume=CKPT"}});
  if (!parsed) return 0;
  const auto& args = *parsed;

  Config config;
  config.method.name = method;
  config.training.output_dir = "outputs/" + method;
  apply_config_flags(config, args, bindings);

  std::string resume_path;
  Config trained;  // the resumed checkpoint's
  if (args.count("resume")) {
    resume_path = args["resume"].as<std::string>();
    if (resume_path.empty()) resume_path = config.training.output_dir + "/last.pt";
    // The checkpoint's config is the base; this command's --config, flags and --set go on top,
    // except the model, which must stay what the weights are.
    CheckpointReader reader(resume_path);
    trained = reader.config();
    Config resumed = trained;
    apply_config_flags(resumed, args, bindings);
    if (args.count("output_dir") == 0) resumed.training.output_dir = config.training.output_dir;
    resumed.model = trained.model;
    if (trained.method.name != method)
      throw Error("checkpoint " + resume_path + " holds a " + trained.method.name + " model, but " + program +
                  " trains " + method + "; use train_" + trained.method.name);
    config = resumed;
  }
  // The program decides the method: a recipe written for any method trains this one.
  config = for_method(config, method);
  validate(config);
  check_directory_creatable(config.training.output_dir);
  check_batch_splits(config.training.batch_size, dist::launch_env_from_process().world_size,
                     config.training.accumulate);
  // Under torchrun / srun / RANK+WORLD_SIZE: join the other processes (nothing otherwise).
  ProcessRuntime runtime(config);

  auto t0 = std::chrono::steady_clock::now();
  auto data = load_training_data(config, runtime.device());
  spdlog::info("loaded {} {} ({} images, {}x{}x{}) in {:.2f}s", data.name, config.data.split,
               data.size(), data.channels(), data.height(), data.width(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (dist::world().is_main()) std::cerr << "resolved config:\n" << config_to_yaml(config);

  if (!resume_path.empty()) check_model_fits_data(trained, data);
  fit_model_to_data(config, data);
  auto method_impl = make_method(config);
  install_stop_handlers();
  Trainer trainer(config, data, *method_impl);
  auto result = trainer.run(resume_path);
  return result.stopped ? 130 : 0;
}

}  // namespace flowlab
