#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <map>
#include <iostream>
#include <nlohmann/json.hpp>

#include "flowlab/cli/commands.h"
#include "flowlab/cli/config_flags.h"
#include "flowlab/data/dataset.h"
#include "flowlab/data/transforms.h"
#include "flowlab/dist/runtime.h"
#include "flowlab/dist/world.h"
#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/image.h"
#include "flowlab/methods/registry.h"
#include "flowlab/recipe.h"
#include "flowlab/tasks/inpaint_finetune.h"
#include "flowlab/tasks/inpainting.h"
#include "flowlab/tasks/masks.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/sampling_model.h"
#include "flowlab/training/stop_signal.h"
#include "flowlab/training/trainer.h"

namespace flowlab {
namespace {

struct LoadedModel : SamplingModel {
  Config config;
};

// The checkpoint's config with this command's sampling flags (only those given) on top.
LoadedModel load_model(const std::string& path, const cxxopts::ParseResult& args,
                       const std::vector<FlagBinding>& bindings, int64_t num_samples, bool ema,
                       torch::Device device) {
  CheckpointReader reader(path);
  LoadedModel m;
  m.config = reader.config();
  m.config.sampling.num_samples = static_cast<int>(num_samples);
  apply_config_flags(m.config, args, bindings);
  validate(m.config);
  static_cast<SamplingModel&>(m) = load_sampling_model(reader, m.config, ema, device);
  return m;
}

std::vector<std::string> expand_mask_types(const std::string& type) {
  if (type == "all") return mask_types();
  make_masks(type, 1, 8, 0);  // throws the known types for a wrong name
  return {type};
}

nlohmann::json means(const InpaintingRun& run, const torch::Tensor& rows) {
  auto m = [&](const torch::Tensor& v) { return v.index_select(0, rows).mean().item<double>(); };
  return {{"n", rows.size(0)},          {"nmse", m(run.nmse)},
          {"psnr", m(run.psnr)},        {"ssim", m(run.ssim)},
          {"hole_nmse", m(run.hole_nmse)}, {"hole_psnr", m(run.hole_psnr)},
          {"hole_ssim", m(run.hole_ssim)}};
}

// A demo column's title: "inpainted", or the checkpoint's directory name when two models are
// compared, with the replacement when both are shown.
std::string column_title(const cxxopts::ParseResult& args, const std::string& model_name,
                         size_t model_count, const std::string& replacement) {
  std::string title = "inpainted";
  if (model_count > 1) {
    auto path = std::filesystem::path(args[model_name == "model" ? "checkpoint" : "compare_to"].as<std::string>());
    title = path.parent_path().filename().string();
    if (title.empty()) title = path.stem().string();
  }
  return replacement.empty() ? title : title + " " + replacement;
}

// The class each image is guided towards: its dataset class, --label for a user's image, or the
// null label (no guidance) for unconditional models and unlabelled images.
torch::Tensor guidance_labels(const Backbone& model, const torch::Tensor& classes,
                              const cxxopts::ParseResult& args, int64_t n) {
  auto none = torch::full({n}, model.null_label(), torch::kInt64);
  if (model.num_classes() == 0) {
    if (args.count("label")) throw Error("--label: this model is unconditional");
    return none;
  }
  if (args.count("label")) {
    auto k = args["label"].as<int64_t>();
    if (k < 0 || k >= model.num_classes())
      throw Error("--label " + std::to_string(k) + ": the model has classes 0.." +
                  std::to_string(model.num_classes() - 1));
    return torch::full({n}, k, torch::kInt64);
  }
  return classes.defined() ? classes : none;
}

// inpaint finetune: the trainer on a pretrained checkpoint with the inpainting objective.
int finetune_command(int argc, char** argv) {
  cxxopts::Options options("inpaint finetune",
                           "Fine-tune a CFM checkpoint for inpainting: on a fraction mask_prob of "
                           "batches the loss is 0.7 * full + 0.3 * masked region.");
  std::vector<FlagBinding> bindings = {
      {"epochs", "training.epochs", "fine-tuning epochs (default 10; ignored when --steps > 0)"},
      {"steps", "training.steps", "optimizer steps (overrides --epochs when > 0)"},
      {"lr", "training.lr", "learning rate (default 5e-5)"},
      {"cfg_dropout", "training.cfg_dropout", "label dropout for CFG (default 0.15)"},
      {"batch_size", "training.batch_size", "images per step"},
      {"output_dir", "training.output_dir", "where checkpoints go (default outputs/inpaint_finetune)"},
      {"data_dir", "data.data_dir", "dataset directory (default: the checkpoint's)"},
  };
  append_device_flags(bindings);
  add_config_flags(options, bindings);
  options.add_options()("pretrained", "the checkpoint to start from", cxxopts::value<std::string>(), "CKPT")(
      "mask_prob", "fraction of batches trained with masks",
      cxxopts::value<double>()->default_value("0.5"), "P")(
      "resume", "continue OUTPUT_DIR/last.pt of an interrupted fine-tuning run")("h,help", "show this help");
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    std::cout << options.help();
    return 0;
  }
  if (!args.unmatched().empty()) throw Error("unexpected argument '" + args.unmatched()[0] + "'");
  if (!args.count("pretrained")) throw Error("--pretrained is required (a last.pt from train_cfm)");
  double mask_prob = args["mask_prob"].as<double>();
  if (!(mask_prob >= 0 && mask_prob <= 1)) throw Error("--mask_prob must be in [0, 1]");
  setup_logging();

  auto pretrained = args["pretrained"].as<std::string>();
  Config config = CheckpointReader(pretrained).config();
  if (!method_entry(config.method.name).per_pixel_loss)
    throw Error("--pretrained " + pretrained + " holds a " + config.method.name +
                " model; inpainting fine-tuning works on CFM checkpoints");
  config.training.epochs = 10;
  config.training.steps = 0;
  config.training.lr = 5e-5;
  config.scheduler.min_lr = std::min(config.scheduler.min_lr, 5e-6);
  config.scheduler.warmup_steps = 0;
  config.training.cfg_dropout = 0.15;
  config.training.output_dir = "outputs/inpaint_finetune";
  config.training.init_from = pretrained;
  apply_config_flags(config, args, bindings);
  validate(config);
  auto device = resolve_device(config.training.device);
  check_directory_creatable(config.training.output_dir);
  dist::Session session(device.type(), config.distributed.timeout);  // the trainer's data parallelism
  auto data = load_dataset(config.data);
  InpaintFinetuneMethod method(make_method(config), mask_prob);
  install_stop_handlers();
  Trainer trainer(config, data, method);
  auto result = trainer.run(args.count("resume") ? config.training.output_dir + "/last.pt" : "");
  return result.stopped ? 130 : 0;
}

}  // namespace

int inpaint_command(int argc, char** argv) {
  std::string sub = argc > 1 ? argv[1] : "";
  if (sub == "finetune") return finetune_command(argc - 1, argv + 1);
  if (sub != "demo" && sub != "evaluate") {
    if (sub == "-h" || sub == "--help" || sub.empty()) {
      std::cout << "Usage: inpaint demo|evaluate|finetune [options]   (inpaint SUBCOMMAND --help for each)\n"
                   "  demo      inpaint a few test images with each mask type; writes comparison grids\n"
                   "  evaluate  NMSE, PSNR and SSIM by mask type and class, as a table and JSON\n"
                   "  finetune  fine-tune a CFM checkpoint for inpainting\n";
      return sub.empty() ? 2 : 0;
    }
    throw Error("unknown subcommand '" + sub + "' (known: demo evaluate finetune)");
  }
  cxxopts::Options options("inpaint " + sub, sub == "demo"
                                                 ? "Inpaint test images and write comparison grids."
                                                 : "Score inpainting by mask type and class.");
  std::vector<FlagBinding> bindings = {
      {"num_samples", "sampling.num_samples", "test images to inpaint"},
      {"steps", "sampling.steps", "solver steps"},
      {"sampler", "sampling.sampler", "sampler (default: the checkpoint's)"},
      {"cfg_scale", "sampling.cfg_scale", "classifier-free guidance scale towards the image's class"},
      {"batch_size", "sampling.batch_size", "images per network batch"},
      {"resample_repeats", "sampling.resample_repeats",
       "DDPM: RePaint resampling, passes over each jump (1 = none; RePaint uses 10)"},
      {"resample_jump", "sampling.resample_jump", "DDPM: levels jumped back up per resampling"},
  };
  append_device_flags(bindings);
  add_config_flags(options, bindings, false);
  options.add_options()("checkpoint", "model to inpaint with", cxxopts::value<std::string>(), "CKPT")(
      "compare_to", "evaluate: a second checkpoint scored on the same images and masks",
      cxxopts::value<std::string>(), "CKPT")(
      "mask_type", "center, random_bbox, irregular, half or all",
      cxxopts::value<std::string>()->default_value("all"), "TYPE")(
      "replacement", "how known pixels re-enter each step: noised (at the sampler's noise level, with "
                     "the sample's own noise), fresh (with new noise every step, as RePaint), clean "
                     "(pasted clean), both (noised and clean side by side) or all; default: noised",
      cxxopts::value<std::string>()->default_value("auto"), "MODE")(
      "data_dir", "dataset directory (default: the checkpoint's)", cxxopts::value<std::string>(), "DIR")(
      "image", "demo: inpaint this PNG/JPG (fitted to the model's size) --num_samples times "
               "instead of dataset images", cxxopts::value<std::string>(), "FILE")(
      "label", "demo --image: class to guide towards (default: none, unconditional)",
      cxxopts::value<int64_t>(), "K")(
      "split", "dataset split the images come from", cxxopts::value<std::string>()->default_value("test"), "SPLIT")(
      "seed", "mask and noise seed", cxxopts::value<int64_t>()->default_value("0"), "S")(
      "output_dir", "demo: where the grids go", cxxopts::value<std::string>()->default_value("inpainting"), "DIR")(
      "output", "evaluate: write the results as JSON here", cxxopts::value<std::string>(), "FILE")(
      "no_ema", "use the raw weights instead of the EMA weights")("h,help", "show this help");
  auto args = options.parse(argc - 1, argv + 1);
  if (args.count("help")) {
    std::cout << options.help();
    return 0;
  }
  if (!args.unmatched().empty()) throw Error("unexpected argument '" + args.unmatched()[0] + "'");
  if (!args.count("checkpoint")) throw Error("--checkpoint is required");
  setup_logging();

  bool ema = !args.count("no_ema");
  auto seed = static_cast<uint64_t>(args["seed"].as<int64_t>());
  int64_t default_count = sub == "demo" ? 8 : 200;
  std::vector<std::pair<std::string, LoadedModel>> models;
  models.emplace_back("model", load_model(args["checkpoint"].as<std::string>(), args, bindings,
                                          default_count, ema, torch::kCPU));
  const Config first = models[0].second.config;  // a copy: models grows below
  configure_threads(first.training.threads);
  auto device = resolve_device(first.training.device);
  models[0].second.model->to(device);
  if (args.count("compare_to"))
    models.emplace_back("compare_to", load_model(args["compare_to"].as<std::string>(), args,
                                                 bindings, default_count, ema, device));
  std::vector<std::string> replacements = {args["replacement"].as<std::string>()};
  if (replacements[0] == "auto") replacements = {method_entry(first.method.name).inpaint_replacement};
  if (replacements[0] == "both") replacements = {"noised", "clean"};
  if (replacements[0] == "all") replacements = replacement_modes();
  for (const auto& r : replacements)
    if (std::find(replacement_modes().begin(), replacement_modes().end(), r) == replacement_modes().end())
      throw Error("--replacement " + r + ": use noised, fresh, clean, both or all");
  auto types = expand_mask_types(args["mask_type"].as<std::string>());

  // The images, and the class each one belongs to (for the per-class table), if known.
  torch::Tensor images, classes;
  std::vector<std::string> class_names;
  std::string source;
  int64_t n = first.sampling.num_samples;
  if (args.count("image")) {
    if (sub != "demo") throw Error("--image is a demo option");
    source = args["image"].as<std::string>();
    auto image = read_image(source, first.model.in_channels);
    images = fit_images(image.unsqueeze(0), first.data.image_size, "crop").repeat({n, 1, 1, 1});
  } else {
    if (args.count("label")) throw Error("--label goes with --image (dataset images use their own class)");
    DataConfig data_config = first.data;
    data_config.split = args["split"].as<std::string>();
    data_config.random_flip = "false";
    if (args.count("data_dir")) data_config.data_dir = args["data_dir"].as<std::string>();
    auto data = load_dataset(data_config);
    source = data_config.dataset + " " + data_config.split;
    n = std::min<int64_t>(n, data.size());
    images = data.images.slice(0, 0, n);
    classes = data.labels.slice(0, 0, n);
    class_names = data.class_names;
  }

  nlohmann::json report = {{"num_images", n}, {"images", source}, {"seed", seed}};
  std::vector<torch::Tensor> labels;
  for (auto& entry : models) labels.push_back(guidance_labels(*entry.second.model, classes, args, n));
  if (sub == "demo") ensure_directory(args["output_dir"].as<std::string>());
  std::cout << std::left << std::setw(12) << "model" << std::setw(13) << "mask" << std::setw(9)
            << "replace" << std::right << std::setw(9) << "NMSE" << std::setw(9) << "PSNR"
            << std::setw(8) << "SSIM" << std::setw(11) << "hole NMSE" << std::setw(11)
            << "hole PSNR" << std::setw(11) << "hole SSIM" << "\n";
  nlohmann::json rows = nlohmann::json::array();
  struct DemoGrid {
    std::vector<torch::Tensor> columns;  // each (N, C, H, W)
    std::vector<std::string> titles;
  };
  std::map<std::string, DemoGrid> demo_grids;  // by mask type
  for (size_t i = 0; i < models.size(); ++i) {
    auto& [model_name, m] = models[i];
    for (const auto& type : types) {
      for (const auto& replacement : replacements) {
        auto run = run_inpainting(*m.method, *m.model, images, labels[i], type, replacement,
                                  m.config.sampling, seed, device);
        auto all = means(run, torch::arange(n));
        all["model"] = model_name;
        all["checkpoint"] = args[model_name == "model" ? "checkpoint" : "compare_to"].as<std::string>();
        all["mask_type"] = type;
        all["replacement"] = replacement;
        nlohmann::json per_class = nlohmann::json::array();
        for (int64_t k = 0; k < static_cast<int64_t>(class_names.size()); ++k) {
          auto rows_k = (classes == k).nonzero().squeeze(1);
          if (rows_k.size(0) == 0) continue;
          auto c = means(run, rows_k);
          c["class"] = k;
          c["name"] = class_names[k];
          per_class.push_back(c);
        }
        all["per_class"] = per_class;
        rows.push_back(all);
        std::cout << std::left << std::setw(12) << model_name << std::setw(13) << type
                  << std::setw(9) << replacement << std::right << std::fixed
                  << std::setprecision(4) << std::setw(9) << all["nmse"].get<double>()
                  << std::setprecision(2) << std::setw(9) << all["psnr"].get<double>()
                  << std::setprecision(3) << std::setw(8) << all["ssim"].get<double>()
                  << std::setprecision(4) << std::setw(11) << all["hole_nmse"].get<double>()
                  << std::setprecision(2) << std::setw(11) << all["hole_psnr"].get<double>()
                  << std::setprecision(3) << std::setw(11) << all["hole_ssim"].get<double>() << "\n";
        if (sub == "demo") {
          auto& grid = demo_grids[type];
          if (grid.columns.empty()) {
            grid.columns = {run.original, run.original * run.masks};  // holes grey
            grid.titles = {"original", "masked"};
          }
          grid.columns.push_back(run.inpainted);
          grid.titles.push_back(column_title(args, model_name, models.size(),
                                             replacements.size() > 1 ? replacement : ""));
        }
      }
    }
  }
  for (const auto& [type, grid] : demo_grids) {
    // One row per image: original | masked | each model and replacement.
    auto cells = torch::stack(grid.columns, 1).flatten(0, 1);
    auto path = args["output_dir"].as<std::string>() + "/comparison_" + type + ".png";
    save_titled_grid(path, cells, static_cast<int64_t>(grid.columns.size()), grid.titles);
    spdlog::info("wrote {}", path);
  }
  report["results"] = rows;
  if (args.count("output")) write_file_atomic(args["output"].as<std::string>(), report.dump(2) + "\n");
  return 0;
}

}  // namespace flowlab
