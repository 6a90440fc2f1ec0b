#include <spdlog/spdlog.h>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
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
#include "flowlab/training/sampling_model.h"
#include "flowlab/training/trainer.h"
#include "flowlab/training/training_run.h"

namespace flowlab {
namespace {

// A checkpoint to inpaint with: "model" (--checkpoint) or "compare_to".
struct NamedModel {
  std::string name, path;
  SamplingCheckpoint checkpoint;
};

std::vector<std::string> expand_mask_types(const std::string& type) {
  if (type == "all") return mask_types();
  make_masks(type, 1, 8, 0);  // throws the known types for a wrong name
  return {type};
}

// A demo column's title: "inpainted", or the checkpoint's directory name when two models are
// compared, with the replacement when several are shown.
std::string column_title(const NamedModel& model, size_t model_count, const std::string& replacement) {
  std::string title = "inpainted";
  if (model_count > 1) {
    auto path = std::filesystem::path(model.path);
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

// The images to inpaint, and the class each belongs to (for the per-class table), if known.
struct InpaintImages {
  torch::Tensor images, classes;  // uint8 (N, C, H, W); (N,) or undefined
  std::vector<std::string> class_names;
  std::string source;
};

// `size` and `channels`: the model's images (a latent model's decoded ones).
InpaintImages images_to_inpaint(const cxxopts::ParseResult& args, const Config& config, bool demo, int64_t size,
                                int64_t channels) {
  InpaintImages in;
  int64_t n = config.sampling.num_samples;
  if (args.count("image")) {
    if (!demo) throw Error("--image is a demo option");
    in.source = args["image"].as<std::string>();
    auto image = read_image(in.source, channels);
    in.images = fit_images(image.unsqueeze(0), size, "crop").repeat({n, 1, 1, 1});
    return in;
  }
  if (args.count("label")) throw Error("--label goes with --image (dataset images use their own class)");
  DataConfig data_config = config.data;
  data_config.split = args["split"].as<std::string>();
  data_config.random_flip = "false";
  data_config.image_size = static_cast<int>(size);
  if (args.count("dataset")) data_config.dataset = args["dataset"].as<std::string>();
  if (args.count("data_dir")) data_config.data_dir = args["data_dir"].as<std::string>();
  if (data_config.dataset == "latents")
    throw Error("this model was trained on encoded latents; name the images to inpaint with --dataset and "
                "--data_dir (the dataset that was encoded), or give --image FILE");
  auto data = load_dataset(data_config);
  in.source = data_config.dataset + " " + data_config.split;
  n = std::min<int64_t>(n, data.size());
  in.images = data.images.slice(0, 0, n);
  in.classes = data.labels.slice(0, 0, n);
  in.class_names = data.class_names;
  return in;
}

void print_table_header() {
  std::cout << std::left << std::setw(12) << "model" << std::setw(13) << "mask" << std::setw(9)
            << "replace" << std::right << std::setw(9) << "NMSE" << std::setw(9) << "PSNR"
            << std::setw(8) << "SSIM" << std::setw(11) << "hole NMSE" << std::setw(11)
            << "hole PSNR" << std::setw(11) << "hole SSIM" << "\n";
}

void print_table_row(const nlohmann::json& r) {
  struct Column {
    const char* key;
    int width, precision;
  };
  static const Column columns[] = {{"nmse", 9, 4},      {"psnr", 9, 2},      {"ssim", 8, 3},
                                   {"hole_nmse", 11, 4}, {"hole_psnr", 11, 2}, {"hole_ssim", 11, 3}};
  std::cout << std::left << std::setw(12) << r["model"].get<std::string>() << std::setw(13)
            << r["mask_type"].get<std::string>() << std::setw(9) << r["replacement"].get<std::string>()
            << std::right;
  for (const auto& c : columns) {
    std::ostringstream cell;  // a null score (NMSE where every reference region is black): "-"
    if (r[c.key].is_null()) cell << "-";
    else cell << std::fixed << std::setprecision(c.precision) << r[c.key].get<double>();
    std::cout << std::setw(c.width) << cell.str();
  }
  std::cout << "\n";
}

// One demo grid per mask type: one row per image, columns original | masked | each model and
// replacement.
struct DemoGrid {
  std::vector<torch::Tensor> columns;  // each (N, C, H, W)
  std::vector<std::string> titles;
  void add(const InpaintingRun& run, const std::string& title) {
    if (columns.empty()) {
      columns = {run.original, run.original * run.masks};  // holes grey
      titles = {"original", "masked"};
    }
    columns.push_back(run.inpainted);
    titles.push_back(title);
  }
  void save(const std::string& path) const {
    auto cells = torch::stack(columns, 1).flatten(0, 1);
    save_titled_grid(path, cells, static_cast<int64_t>(columns.size()), titles);
    spdlog::info("wrote {}", path);
  }
};

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
  auto args = parse_command_line(options, argc, argv);
  if (!args) return 0;
  if (!args->count("pretrained")) throw Error("--pretrained is required (a last.pt from train_cfm)");
  double mask_prob = (*args)["mask_prob"].as<double>();
  if (!(mask_prob >= 0 && mask_prob <= 1)) throw Error("--mask_prob must be in [0, 1]");

  auto pretrained = (*args)["pretrained"].as<std::string>();
  auto overrides = [&](Config& config) { apply_config_flags(config, *args, bindings); };
  auto fresh = inpaint_finetune_config(CheckpointReader(pretrained).config(), pretrained);
  overrides(fresh);
  std::optional<std::string> resume;
  if (args->count("resume")) resume = "";  // OUTPUT_DIR/last.pt
  auto plan = plan_training_run(fresh, resume, overrides);
  auto result = train(plan, [&](const Config& config) -> MethodPtr {
    return std::make_unique<InpaintFinetuneMethod>(make_method(config), mask_prob);
  });
  return result.stopped ? 130 : 0;
}

cxxopts::Options inpaint_options(const std::string& sub, std::vector<FlagBinding>& bindings) {
  cxxopts::Options options("inpaint " + sub, sub == "demo"
                                                 ? "Inpaint test images and write comparison grids."
                                                 : "Score inpainting by mask type and class.");
  bindings = {
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
                     "(pasted clean), both (noised and clean side by side) or all; default: fresh "
                     "for DDPM, noised otherwise",
      cxxopts::value<std::string>()->default_value("auto"), "MODE")(
      "dataset", "dataset the images come from (default: the checkpoint's; for a model trained on encoded "
                 "latents, name the dataset that was encoded)", cxxopts::value<std::string>(), "NAME")(
      "data_dir", "dataset directory (default: the checkpoint's)", cxxopts::value<std::string>(), "DIR")(
      "image", "demo: inpaint this PNG/JPG (fitted to the model's size) --num_samples times "
               "instead of dataset images", cxxopts::value<std::string>(), "FILE")(
      "label", "demo --image: class to guide towards (default: none, unconditional)",
      cxxopts::value<int64_t>(), "K")(
      "split", "dataset split the images come from", cxxopts::value<std::string>()->default_value("test"), "SPLIT")(
      "seed", "mask and noise seed", cxxopts::value<int64_t>()->default_value("0"), "S")(
      "output_dir", "demo: where the grids go", cxxopts::value<std::string>()->default_value("inpainting"), "DIR")(
      "output", "evaluate: write the results as JSON here", cxxopts::value<std::string>(), "FILE")(
      "h,help", "show this help");
  add_latent_model_flags(options);
  add_weight_flags(options);
  return options;
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
  std::vector<FlagBinding> bindings;
  auto options = inpaint_options(sub, bindings);
  auto args = parse_command_line(options, argc - 1, argv + 1);
  if (!args) return 0;
  if (!args->count("checkpoint")) throw Error("--checkpoint is required");
  const bool demo = sub == "demo";
  const auto weights = weight_choice(*args);
  auto seed = static_cast<uint64_t>((*args)["seed"].as<int64_t>());
  auto overrides = [&](Config& c) {
    c.sampling.num_samples = demo ? 8 : 200;
    apply_config_flags(c, *args, bindings);
  };
  std::vector<NamedModel> models;
  models.push_back({"model", (*args)["checkpoint"].as<std::string>(), {}});
  if (args->count("compare_to")) models.push_back({"compare_to", (*args)["compare_to"].as<std::string>(), {}});
  for (auto& m : models) {
    m.checkpoint = open_for_sampling(m.path, overrides);
    set_latent_model_flags(m.checkpoint, *args);
  }
  const Config& first = models[0].checkpoint.config;
  ProcessRuntime runtime(first);
  for (auto& m : models) m.checkpoint.load(weights, runtime.device());
  // The images' size and channels: a latent model's decoded ones; two models must agree.
  auto image_size = [](const SamplingCheckpoint& c) { return c.config.data.image_size * c.codec->downsampling(); };
  const auto& codec = *models[0].checkpoint.codec;
  int64_t size = image_size(models[0].checkpoint), channels = codec.image_channels(first.model.in_channels);
  if (models.size() > 1 && image_size(models[1].checkpoint) != size)
    throw Error("--compare_to " + models[1].path + " makes " + std::to_string(image_size(models[1].checkpoint)) +
                "-pixel images, --checkpoint " + std::to_string(size) + "-pixel ones");
  auto replacements = expand_replacements((*args)["replacement"].as<std::string>(), first.method.name);
  auto types = expand_mask_types((*args)["mask_type"].as<std::string>());
  auto in = images_to_inpaint(*args, first, demo, size, channels);
  int64_t n = in.images.size(0);

  if (demo) ensure_directory((*args)["output_dir"].as<std::string>());

  nlohmann::json report = {{"num_images", n}, {"images", in.source}, {"seed", seed}};
  nlohmann::json rows = nlohmann::json::array();
  std::map<std::string, DemoGrid> demo_grids;  // by mask type
  print_table_header();
  for (const auto& m : models) {
    auto labels = guidance_labels(*m.checkpoint.model, in.classes, *args, n);
    for (const auto& type : types)
      for (const auto& replacement : replacements) {
        auto run = run_inpainting(*m.checkpoint.method, *m.checkpoint.model, in.images, labels, type,
                                  replacement, m.checkpoint.config.sampling, seed, runtime.device(),
                                  *m.checkpoint.codec);
        auto row = inpainting_scores(run, in.classes, in.class_names);
        row["model"] = m.name;
        row["checkpoint"] = m.path;
        row["mask_type"] = type;
        row["replacement"] = replacement;
        print_table_row(row);
        rows.push_back(row);
        if (demo)
          demo_grids[type].add(run, column_title(m, models.size(), replacements.size() > 1 ? replacement : ""));
      }
  }
  for (const auto& [type, grid] : demo_grids)
    grid.save((*args)["output_dir"].as<std::string>() + "/comparison_" + type + ".png");
  report["results"] = rows;
  if (args->count("output")) write_file_atomic((*args)["output"].as<std::string>(), report.dump(2) + "\n");
  return 0;
}

}  // namespace flowlab
