#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "flowlab/cli/commands.h"
#include "flowlab/cli/config_flags.h"
#include "flowlab/data/image_folder.h"
#include "flowlab/dist/runtime.h"
#include "flowlab/error.h"
#include "flowlab/eval/features.h"
#include "flowlab/eval/inception_score.h"
#include "flowlab/eval/precision_recall.h"
#include "flowlab/eval/reference.h"
#include "flowlab/io/files.h"
#include "flowlab/recipe.h"
#include "flowlab/training/sampling_model.h"

namespace flowlab {
namespace {

std::unique_ptr<FeatureExtractor> make_extractor(const cxxopts::ParseResult& args, torch::Device device) {
  if (args.count("feature_extractor"))
    return make_torchscript_extractor(args["feature_extractor"].as<std::string>(), device);
  if (args.count("random_weights")) return make_inception_extractor("random", device);
  return make_inception_extractor(
      args.count("inception_weights") ? args["inception_weights"].as<std::string>() : default_inception_weights(),
      device);
}

// The size every set is scored at: a loaded checkpoint's images (a latent model's decoded; another
// --image_size cannot match them), or an --images folder's own unless --image_size resizes it (0
// until the folder is read).
int scoring_size(const cxxopts::ParseResult& args, const SamplingCheckpoint* checkpoint) {
  int requested = args["image_size"].as<int>();
  if (requested < 0) throw Error("--image_size must be positive");
  if (!checkpoint) return requested;
  int generated = checkpoint->config.data.image_size * static_cast<int>(checkpoint->codec->downsampling());
  if (requested > 0 && requested != generated)
    throw Error("--image_size " + std::to_string(requested) + ": the checkpoint generates " +
                std::to_string(generated) + "x" + std::to_string(generated) +
                " images, and a reference of another size cannot match them; leave --image_size out");
  return generated;
}

// "fid" for Inception features, "fd" for others (the report's "metric" names them).
nlohmann::json scores_json(const Scores& s, const std::string& metric) {
  nlohmann::json j = {{metric == "FID" ? "fid" : "fd", s.fid}, {"n", s.count}};
  if (s.kid.subsets > 0) {
    j["kid_mean"] = s.kid.mean;
    j["kid_std"] = s.kid.std;
    j["kid_subsets"] = s.kid.subsets;
    j["kid_subset_size"] = s.kid.subset_size;
  }
  return j;
}

// width: the distance column's, wide enough for its heading.
std::string row(const std::string& name, const Scores& s, int width) {
  std::ostringstream out;
  // Four decimals: FIDs of near-identical sets (and of --random_weights features) are small.
  out << std::left << std::setw(14) << name << std::right << std::fixed << std::setprecision(4)
      << std::setw(width) << s.fid;
  if (s.kid.subsets > 0)
    out << std::setw(12) << s.kid.mean * 1000 << " +- " << s.kid.std * 1000;
  out << std::setw(8) << s.count;
  return out.str();
}

// The papers' protocol (--protocol paper): 50,000 samples against the training set, FID and IS.
constexpr int64_t kPaperSamples = 50000;

// --reference, or else a checkpoint's training set (the paper protocol insists on it), or else
// cifar10-train.
std::string reference_name(const cxxopts::ParseResult& args, const Config* checkpoint_config, bool paper) {
  std::string training = checkpoint_config ? training_set_reference(checkpoint_config->data) : "";
  if (args.count("reference")) {
    auto given = args["reference"].as<std::string>();
    if (paper && !training.empty() && given != training)
      throw Error("--protocol paper scores against the training set (" + training + "); leave --reference " +
                  given + " out, or --protocol");
    return given;
  }
  if (!training.empty()) return training;
  if (checkpoint_config)
    throw Error("give --reference: the checkpoint's data.dataset " + checkpoint_config->data.dataset +
                " is no reference by itself (a dataset split such as cifar10-train, an .npz or an image folder)");
  return "cifar10-train";
}

// The conditions of the numbers, printed and written beside them.
nlohmann::json protocol_json(const std::string& name, const nlohmann::json& report, const Reference& reference,
                             int64_t samples, uint64_t seed) {
  nlohmann::json protocol = {{"name", name},
                             {"samples", samples},
                             {"reference", reference.name},
                             {"reference_images", reference.stats.count},
                             {"image_size", report["image_size"]},
                             {"features", report["features"]},
                             {"seed", seed}};
  for (const char* key : {"checkpoint", "sampler", "steps", "nfe", "cfg_scale", "ema", "ema_decay", "images"})
    if (report.contains(key)) protocol[key] = report[key];
  return protocol;
}

std::string protocol_line(const nlohmann::json& p) {
  std::ostringstream out;
  out << "protocol " << p["name"].get<std::string>() << ": " << p["samples"] << " ";
  if (p.contains("checkpoint"))
    out << "samples of " << p["checkpoint"].get<std::string>() << " ("
        << (p["ema"].get<bool>() ? "EMA " + c10::str(p["ema_decay"].get<double>()) : std::string("raw"))
        << " weights), " << p["sampler"].get<std::string>() << " "
        << p["steps"] << " steps, NFE " << p["nfe"] << ", CFG " << p["cfg_scale"];
  else
    out << "images of " << p["images"].get<std::string>();
  out << " | reference " << p["reference"].get<std::string>() << " (" << p["reference_images"] << " images, "
      << p["image_size"] << " px) | features " << p["features"].get<std::string>() << " | seed " << p["seed"];
  return out.str();
}

// The checkpoint's samples' features (the processes of a job share the generation), with what
// the report says about how they were made.
FeatureSet checkpoint_features(SamplingCheckpoint& checkpoint, FeatureExtractor& extractor,
                               uint64_t seed, torch::Device device, nlohmann::json& report) {
  const auto& config = checkpoint.config;
  int64_t n = config.sampling.num_samples, classes = checkpoint.model->num_classes();
  auto labels = classes > 0 ? torch::arange(n, torch::kInt64) % classes
                            : torch::full({n}, checkpoint.model->null_label(), torch::kInt64);
  auto generated = generated_features(extractor, *checkpoint.method, *checkpoint.model, labels, config, seed,
                                      device, [&](const torch::Tensor& x) { return checkpoint.to_pixels(x); });
  report["checkpoint"] = checkpoint.reader->path();
  report["method"] = config.method.name;
  report["model"] = config.model.type;
  report["sampler"] = config.sampling.sampler;
  report["steps"] = config.sampling.steps;
  report["cfg_scale"] = config.sampling.cfg_scale;
  report["nfe"] = generated.nfe;
  report["network_evaluations"] = generated.evaluations;
  report["generation_images_per_sec"] = generated.generation_images_per_second;
  return generated.set;
}

// Prints the table of scores (all, then each class with per_class) and adds them to `report`.
void print_scores(const Reference& reference, const FeatureSet& candidate, const std::string& metric,
                  bool with_kid, bool per_class, uint64_t seed, nlohmann::json& report) {
  auto overall = score(reference.stats, reference.features, candidate.features, with_kid, seed);
  report["metric"] = metric;
  report["overall"] = scores_json(overall, metric);
  const int width = std::max<int>(10, static_cast<int>(metric.size()) + 2);
  std::cout << std::left << std::setw(14) << "set" << std::right << std::setw(width) << metric
            << (with_kid ? "   KIDx1000 (mean +- std)" : "") << std::setw(8) << "N" << "\n"
            << row("all", overall, width) << "\n";
  if (per_class) {
    report["per_class"] = nlohmann::json::array();
    for (const auto& c : per_class_scores(reference, candidate, with_kid, seed)) {
      std::cout << row(c.name, c.scores, width) << "\n";
      auto j = scores_json(c.scores, metric);
      j["class"] = c.label;
      j["name"] = c.name;
      report["per_class"].push_back(j);
    }
  }
}

// evaluate_fid's flags; `bindings` gets those that set config keys.
cxxopts::Options evaluate_options(std::vector<FlagBinding>& bindings) {
  cxxopts::Options options(
      "evaluate_fid",
      "FID (and KID, Inception Score, precision and recall) of a checkpoint's samples or of an image "
      "folder against reference images, with pytorch-fid's InceptionV3 features.");
  bindings = {
      {"num_samples", "sampling.num_samples", "images to generate (default here: 5000)"},
      {"steps", "sampling.steps", "solver steps"},
      {"sampler", "sampling.sampler", "sampler (see generate_samples --help)"},
      {"cfg_scale", "sampling.cfg_scale", "classifier-free guidance scale (1 = off)"},
      {"batch_size", "sampling.batch_size", "images per network batch (generation and features)"},
  };
  append_device_flags(bindings);
  add_config_flags(options, bindings, false);
  options.add_options()("checkpoint", "evaluate samples of this checkpoint", cxxopts::value<std::string>(), "CKPT")(
      "images", "evaluate the images in this folder instead (class subfolders or flat)",
      cxxopts::value<std::string>(), "DIR")(
      "reference", "cifar10-train, cifar10-test, mnist-train, mnist-test, FILE.npz (mu, sigma) or an image folder "
      "(default: a checkpoint's training set, else cifar10-train)", cxxopts::value<std::string>(), "REF")(
      "protocol", "paper: the papers' CIFAR-10 protocol, 50,000 samples against the training set, FID and "
      "Inception Score, printed with the sampler, NFE and reference beside them", cxxopts::value<std::string>(), "NAME")(
      "inception_score", "also compute the Inception Score (torch-fidelity's: 10 splits, mean and std)")(
      "data_dir", "dataset directory for a cifar10-*/mnist-* reference (default: a checkpoint's data.data_dir)",
      cxxopts::value<std::string>(), "DIR")(
      "image_size", "the size every set is scored at (default: a checkpoint's data.image_size, or the --images folder's own); "
      "a cifar10-*/mnist-* reference is built at it with the checkpoint's data.fit (for --images: MNIST zero-padded "
      "when larger than 28, resized otherwise), folders are resized to it", cxxopts::value<int>()->default_value("0"), "N")(
      "kid", "also compute KID (100 subsets of min(1000, N))")(
      "precision_recall", "also compute improved precision and recall (k = 3 nearest neighbours in the "
                          "features, as the ADM evaluation suite does)")(
      "per_class", "FID per class: each class's samples against that class's real images")(
      "output", "write the results as JSON here", cxxopts::value<std::string>(), "FILE")(
      "inception_weights", "converted pytorch-fid weights (scripts/pytorch/convert_inception_weights.py); default $FLOWLAB_INCEPTION_WEIGHTS or weights/inception_fid.pt",
      cxxopts::value<std::string>(), "FILE")(
      "random_weights", "Inception with fixed hashed weights: for smoke tests and benchmarks only; the numbers are not comparable with published FIDs")(
      "feature_extractor", "a TorchScript module mapping (N, 3, H, W) in [0, 1] to (N, D) features, instead of "
      "Inception (scripts/pytorch/export_feature_extractor.py writes them); the distance is then FD_<name>",
      cxxopts::value<std::string>(), "FILE")(
      "reference_cache", "where dataset reference features are cached (default: ~/.cache/flowlab/fid/REF-SIZEpx-FIT-FEATURES.npz)",
      cxxopts::value<std::string>(), "FILE")(
      "seed", "noise and KID subset seed", cxxopts::value<int64_t>()->default_value("0"), "S")(
      "h,help", "show this help");
  add_latent_model_flags(options);
  add_weight_flags(options);
  return options;
}

// --protocol: "paper" (kPaperSamples samples against the training set) or "custom" when absent.
std::string protocol_of(const cxxopts::ParseResult& args) {
  if (!args.count("protocol")) return "custom";
  const auto protocol = args["protocol"].as<std::string>();
  if (protocol != "paper") throw Error("--protocol " + protocol + ": the one protocol is paper");
  if (args.count("num_samples"))
    throw Error("--protocol paper scores " + std::to_string(kPaperSamples) + " samples; leave --num_samples out");
  return protocol;
}

// The weights --no_ema / --ema choose, loaded onto `device`, and recorded in the report.
void load_weights_to_score(SamplingCheckpoint& checkpoint, const cxxopts::ParseResult& args, torch::Device device,
                           nlohmann::json& report) {
  set_latent_model_flags(checkpoint, args);
  auto weights = weight_choice(args);
  checkpoint.load(weights, device);
  report["ema"] = weights.ema;
  if (weights.ema)
    report["ema_decay"] =
        weights.ema_decay != 0 ? weights.ema_decay : checkpoint.config.training.ema_decay_list().front();
}

// How the reference is built: a checkpoint's data fit and folder unless the flags say otherwise.
ReferenceOptions reference_options(const cxxopts::ParseResult& args, const Config* checkpoint_config,
                                   bool per_class, int64_t batch_size) {
  ReferenceOptions ref;
  ref.image_size = scoring_size(args, nullptr);  // a checkpoint's, once it is loaded
  if (checkpoint_config) {
    ref.fit = checkpoint_config->data.fit;  // the dataset fitted as the checkpoint's was
    ref.data_dir = checkpoint_config->data.data_dir;
  }
  if (args.count("data_dir")) ref.data_dir = args["data_dir"].as<std::string>();
  if (args.count("reference_cache")) ref.cache_path = args["reference_cache"].as<std::string>();
  ref.class_names = per_class;
  ref.batch_size = batch_size;
  return ref;
}

void print_precision_recall(const Reference& reference, const FeatureSet& candidate, nlohmann::json& report) {
  if (!reference.features.defined())
    throw Error("--precision_recall needs the reference's features; " + reference.name +
                " holds statistics only (use a dataset reference or a folder)");
  auto pr = precision_recall(reference.features, candidate.features);
  report["precision"] = pr.precision;
  report["recall"] = pr.recall;
  std::cout << "precision " << std::setprecision(4) << std::fixed << pr.precision << ", recall " << pr.recall
            << " (k = 3 nearest neighbours in the features)\n";
}

void print_inception_score(FeatureExtractor& extractor, const FeatureSet& candidate, nlohmann::json& report) {
  auto is = inception_score(extractor.class_logits(candidate.features));
  report["inception_score_mean"] = is.mean;
  report["inception_score_std"] = is.std;
  report["inception_score_splits"] = is.splits;
  std::cout << "Inception Score " << std::setprecision(3) << std::fixed << is.mean << " +- " << is.std << " ("
            << is.splits << " splits)\n";
}

}  // namespace

int evaluate_command(int argc, char** argv) {
  std::vector<FlagBinding> bindings;
  auto options = evaluate_options(bindings);
  auto args = parse_command_line(options, argc, argv);
  if (!args) return 0;
  if (args->count("checkpoint") == args->count("images"))
    throw Error("give exactly one of --checkpoint CKPT and --images DIR");
  const std::string protocol = protocol_of(*args);
  const bool paper = protocol == "paper";

  std::unique_ptr<SamplingCheckpoint> checkpoint;
  Config config;
  config.sampling.num_samples = 5000;
  config.sampling.batch_size = 100;
  if (args->count("checkpoint")) {
    checkpoint = std::make_unique<SamplingCheckpoint>(
        open_for_sampling((*args)["checkpoint"].as<std::string>(), [&](Config& c) {
          c.sampling.num_samples = paper ? kPaperSamples : 5000;
          apply_config_flags(c, *args, bindings);
        }));
    config = checkpoint->config;
  } else {
    apply_config_flags(config, *args, bindings);
    validate(config);
  }
  bool with_kid = args->count("kid") > 0, per_class = args->count("per_class") > 0;
  if (per_class && checkpoint && config.model.num_classes == 0)
    throw Error("--per_class: the checkpoint holds an unconditional model (model.num_classes 0), "
                "which has no classes to score");
  const bool with_is = paper || args->count("inception_score");
  auto ref_name = reference_name(*args, checkpoint ? &config : nullptr, paper);
  auto ref = reference_options(*args, checkpoint ? &config : nullptr, per_class, config.sampling.batch_size);
  check_reference_name(ref_name, ref);  // before the (possibly long) generation

  ProcessRuntime runtime(config);
  auto device = runtime.device();
  auto seed = static_cast<uint64_t>((*args)["seed"].as<int64_t>());
  auto extractor = make_extractor(*args, device);
  if (with_is && !extractor->has_class_logits())
    throw Error("the Inception Score needs the Inception network's classifier, which the features " +
                extractor->name() + " lack (Inception weights: convert them again with the current "
                "scripts/pytorch/convert_inception_weights.py)");
  nlohmann::json report = {{"features", extractor->name()}};
  FeatureSet candidate;
  if (checkpoint) {
    load_weights_to_score(*checkpoint, *args, device, report);
    ref.image_size = scoring_size(*args, checkpoint.get());
    candidate = checkpoint_features(*checkpoint, *extractor, seed, device, report);
  }
  if (!dist::world().is_main()) return 0;  // rank 0 alone scores
  Dataset folder;  // --images, read first: its size is the reference's
  if (!checkpoint) {
    folder = load_image_folder((*args)["images"].as<std::string>(), ref.image_size, "resize");
    ref.image_size = static_cast<int>(folder.height());
    if (paper && folder.size() != kPaperSamples)
      throw Error("--protocol paper scores " + std::to_string(kPaperSamples) + " images; " +
                  (*args)["images"].as<std::string>() + " holds " + std::to_string(folder.size()));
  }
  auto reference = load_reference(ref_name, ref, *extractor, device);
  if (!checkpoint) {
    candidate = dataset_features(*extractor, folder, ref.batch_size, device, "image features");
    report["images"] = (*args)["images"].as<std::string>();
  }
  report["reference"] = reference.name;
  report["image_size"] = ref.image_size;
  report["feature_images_per_sec"] = candidate.images_per_second;

  print_scores(reference, candidate, extractor->metric_name(), with_kid, per_class, seed, report);
  if (args->count("precision_recall")) print_precision_recall(reference, candidate, report);
  if (with_is) print_inception_score(*extractor, candidate, report);
  std::cout << "features: " << extractor->name() << ", " << std::setprecision(1) << std::fixed
            << candidate.images_per_second << " images/s\n";
  report["protocol"] = protocol_json(protocol, report, reference, candidate.features.size(0), seed);
  std::cout << protocol_line(report["protocol"]) << "\n";
  if (args->count("output"))
    write_file_atomic((*args)["output"].as<std::string>(), report.dump(2) + "\n");
  return 0;
}

}  // namespace flowlab
