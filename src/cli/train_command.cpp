#include <optional>

#include "flowlab/cli/commands.h"
#include "flowlab/cli/config_flags.h"
#include "flowlab/methods/registry.h"
#include "flowlab/recipe.h"
#include "flowlab/training/trainer.h"
#include "flowlab/training/training_run.h"

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

  // The program decides the method: a recipe written for any method trains this one.
  auto overrides = [&](Config& config) {
    apply_config_flags(config, args, bindings);
    config = for_method(config, method);
  };
  Config fresh;
  fresh.method.name = method;
  fresh.training.output_dir = "outputs/" + method;
  overrides(fresh);
  std::optional<std::string> resume;
  if (args.count("resume")) resume = args["resume"].as<std::string>();
  auto result = train(plan_training_run(fresh, resume, overrides), make_method);
  return result.stopped ? 130 : 0;
}

}  // namespace flowlab
