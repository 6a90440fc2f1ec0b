#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "flowlab/cli/commands.h"
#include "flowlab/cli/config_flags.h"
#include "flowlab/data/dataset.h"
#include "flowlab/data/image_folder.h"
#include "flowlab/data/registry.h"
#include "flowlab/dist/runtime.h"
#include "flowlab/dist/world.h"
#include "flowlab/error.h"
#include "flowlab/recipe.h"
#include "flowlab/strings.h"
#include "flowlab/eval/features.h"
#include "flowlab/io/files.h"
#include "flowlab/io/npz.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/sampling_model.h"

namespace flowlab {
namespace {

// Reference features: statistics always; features and labels when computed from images or
// read from a flowlab cache (needed by KID and --per_class).
struct Reference {
  std::string name;
  FeatureStatistics stats;
  torch::Tensor features, labels;
  std::vector<std::string> class_names;
};

std::string default_weights() {
  const char* env = std::getenv("FLOWLAB_INCEPTION_WEIGHTS");
  return env ? env : "weights/inception_fid.pt";
}

std::string default_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME")) return std::string(xdg) + "/flowlab";
  if (const char* home = std::getenv("HOME")) return std::string(home) + "/.cache/flowlab";
  return ".flowlab_cache";
}

// image_size: the size of the images scored against it; a flowlab cache records its own and must
// agree (statistics without one, such as pytorch-fid's, are taken as they are).
Reference reference_from_npz(const std::string& path, int image_size) {
  auto arrays = read_npz(path);
  if (arrays.count("image_size")) {
    auto size = arrays["image_size"].flatten()[0].item<int64_t>();
    if (size != image_size)
      throw Error(path + " holds reference features of " + std::to_string(size) + "x" +
                  std::to_string(size) + " images, but the images scored here are " +
                  std::to_string(image_size) + "x" + std::to_string(image_size));
  }
  if (!arrays.count("mu") || !arrays.count("sigma"))
    throw Error(path + ": a reference .npz needs arrays 'mu' and 'sigma'");
  Reference r;
  r.name = path;
  r.stats = {arrays["mu"].to(torch::kFloat64), arrays["sigma"].to(torch::kFloat64), 0};
  if (arrays.count("features")) {
    r.features = arrays["features"].to(torch::kFloat32);
    r.stats.count = r.features.size(0);
  }
  if (arrays.count("labels")) r.labels = arrays["labels"].to(torch::kInt64);
  return r;
}

// "cifar10-train", "mnist-test", ... -> DataConfig; false when `name` is not of that form.
bool dataset_reference(const std::string& name, DataConfig& data) {
  auto dash = name.find('-');
  if (dash == std::string::npos) return false;
  auto dataset = name.substr(0, dash), split = name.substr(dash + 1);
  auto entries = dataset_entries();
  bool reference = std::any_of(entries.begin(), entries.end(), [&](const DatasetEntry& e) {
    return e.fid_reference && e.name == dataset;
  });
  if (!reference || (split != "train" && split != "test")) return false;
  data.dataset = dataset;
  data.split = split;
  data.random_flip = "false";
  return true;
}

Reference reference_from_images(const Dataset& data, const std::string& name,
                                FeatureExtractor& extractor, int64_t batch_size,
                                torch::Device device) {
  auto set = dataset_features(extractor, data, batch_size, device, "reference features");
  Reference r;
  r.name = name;
  r.stats = feature_statistics(set.features);
  r.features = set.features;
  r.labels = set.labels;
  r.class_names = data.class_names;
  return r;
}

nlohmann::json scores_json(const Scores& s) {
  nlohmann::json j = {{"fid", s.fid}, {"n", s.count}};
  if (s.kid.subsets > 0) {
    j["kid_mean"] = s.kid.mean;
    j["kid_std"] = s.kid.std;
    j["kid_subsets"] = s.kid.subsets;
    j["kid_subset_size"] = s.kid.subset_size;
  }
  return j;
}

std::string row(const std::string& name, const Scores& s) {
  std::ostringstream out;
  // Four decimals: FIDs of near-identical sets (and of --random_weights features) are small.
  out << std::left << std::setw(14) << name << std::right << std::fixed << std::setprecision(4)
      << std::setw(10) << s.fid;
  if (s.kid.subsets > 0)
    out << std::setw(12) << s.kid.mean * 1000 << " +- " << s.kid.std * 1000;
  out << std::setw(8) << s.count;
  return out.str();
}

}  // namespace

int evaluate_command(int argc, char** argv) {
  cxxopts::Options options(
      "evaluate_fid",
      "FID (and KID) of a checkpoint's samples or of an image folder against reference images, "
      "with pytorch-fid's InceptionV3 features.");
  std::vector<FlagBinding> bindings = {
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
      "reference", "cifar10-train, cifar10-test, mnist-train, mnist-test, FILE.npz (mu, sigma) or an image folder",
      cxxopts::value<std::string>()->default_value("cifar10-train"), "REF")(
      "data_dir", "dataset directory for a cifar10-*/mnist-* reference", cxxopts::value<std::string>(), "DIR")(
      "image_size", "the size every set is scored at (default: a checkpoint's data.image_size, or the --images folder's own); "
      "a cifar10-*/mnist-* reference is built at it with the checkpoint's data.fit (for --images: MNIST zero-padded "
      "when larger than 28, resized otherwise), folders are resized to it", cxxopts::value<int>()->default_value("0"), "N")(
      "kid", "also compute KID (100 subsets of min(1000, N))")(
      "per_class", "FID per class: each class's samples against that class's real images")(
      "output", "write the results as JSON here", cxxopts::value<std::string>(), "FILE")(
      "inception_weights", "converted pytorch-fid weights (scripts/convert_inception_weights.py); default $FLOWLAB_INCEPTION_WEIGHTS or weights/inception_fid.pt",
      cxxopts::value<std::string>(), "FILE")(
      "random_weights", "Inception with fixed hashed weights: for smoke tests and benchmarks only; the numbers are not comparable with published FIDs")(
      "feature_extractor", "a TorchScript module mapping (N, 3, H, W) in [0, 1] to (N, D) features, instead of Inception",
      cxxopts::value<std::string>(), "FILE")(
      "reference_cache", "where dataset reference features are cached (default: ~/.cache/flowlab/fid/REF-EXTRACTOR.npz)",
      cxxopts::value<std::string>(), "FILE")(
      "seed", "noise and KID subset seed", cxxopts::value<int64_t>()->default_value("0"), "S")(
      "no_ema", "sample the raw weights instead of the EMA weights")("h,help", "show this help");
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    std::cout << options.help();
    return 0;
  }
  if (!args.unmatched().empty()) throw Error("unexpected argument '" + args.unmatched()[0] + "'");
  if (args.count("checkpoint") == args.count("images"))
    throw Error("give exactly one of --checkpoint CKPT and --images DIR");
  setup_logging();

  std::unique_ptr<CheckpointReader> reader;
  Config config;
  config.sampling.num_samples = 5000;
  config.sampling.batch_size = 100;
  if (args.count("checkpoint")) {
    reader = std::make_unique<CheckpointReader>(args["checkpoint"].as<std::string>());
    config = reader->config();
    config.sampling.num_samples = 5000;
  }
  apply_config_flags(config, args, bindings);
  validate(config);
  dist::Session session(resolve_device(config.training.device).type(), config.distributed.timeout);
  configure_threads(config.training.threads);
  auto device = resolve_device(config.training.device);  // the local rank's GPU under a launcher
  auto seed = static_cast<uint64_t>(args["seed"].as<int64_t>());
  bool with_kid = args.count("kid") > 0, per_class = args.count("per_class") > 0;
  int64_t batch = config.sampling.batch_size;
  int image_size = args["image_size"].as<int>();  // 0: the candidate's own
  if (image_size < 0) throw Error("--image_size must be positive");
  if (reader) {
    if (image_size > 0 && image_size != config.data.image_size)
      throw Error("--image_size " + std::to_string(image_size) + ": the checkpoint generates " +
                  std::to_string(config.data.image_size) + "x" + std::to_string(config.data.image_size) +
                  " images, and a reference of another size cannot match them; leave --image_size out");
    image_size = config.data.image_size;
    if (per_class && config.model.num_classes == 0)
      throw Error("--per_class: the checkpoint holds an unconditional model (model.num_classes 0), "
                  "which has no classes to score");
  }

  std::unique_ptr<FeatureExtractor> extractor;
  if (args.count("feature_extractor"))
    extractor = make_torchscript_extractor(args["feature_extractor"].as<std::string>(), device);
  else
    extractor = make_inception_extractor(
        args.count("random_weights") ? "random"
                                     : (args.count("inception_weights")
                                            ? args["inception_weights"].as<std::string>()
                                            : default_weights()),
        device);

  // The reference's name is checked now; it is read after the (possibly long) generation.
  auto ref_name = args["reference"].as<std::string>();
  DataConfig ref_data;
  bool ref_is_dataset = dataset_reference(ref_name, ref_data);
  if (ref_is_dataset && !args.count("data_dir")) throw Error("--reference " + ref_name + " needs --data_dir");
  if (!ref_is_dataset && ::access(ref_name.c_str(), R_OK) != 0)
    throw Error("--reference " + ref_name + ": no such .npz file or image folder (or a dataset "
                "name: cifar10-train, cifar10-test, mnist-train, mnist-test)");

  // A checkpoint's samples first: the processes of a job share the generation, then rank 0
  // alone scores them and the others are done.
  nlohmann::json report = {{"features", extractor->name()}};
  FeatureSet candidate;
  if (reader) {
    auto [model, method] = load_sampling_model(*reader, config, !args.count("no_ema"), device);
    int64_t n = config.sampling.num_samples, classes = model->num_classes();
    auto labels = classes > 0 ? torch::arange(n, torch::kInt64) % classes
                              : torch::full({n}, model->null_label(), torch::kInt64);
    auto generated = generated_features(*extractor, *method, *model, labels, config, seed, device);
    candidate = generated.set;
    report["checkpoint"] = reader->path();
    report["method"] = config.method.name;
    report["model"] = config.model.type;
    report["sampler"] = config.sampling.sampler;
    report["steps"] = config.sampling.steps;
    report["cfg_scale"] = config.sampling.cfg_scale;
    report["nfe"] = generated.nfe;
    report["generation_images_per_sec"] = generated.generation_images_per_second;
  }
  if (!dist::world().is_main()) return 0;

  Dataset folder;  // --images
  if (!reader) {
    folder = load_image_folder(args["images"].as<std::string>(), image_size, "resize");
    image_size = static_cast<int>(folder.height());
  }

  // The reference, at the candidate's size: a dataset's images fitted as the checkpoint's were.
  Reference reference;
  if (ends_with(ref_name, ".npz")) {
    reference = reference_from_npz(ref_name, image_size);
  } else if (ref_is_dataset) {
    ref_data.data_dir = args["data_dir"].as<std::string>();
    ref_data.image_size = image_size;
    if (reader) ref_data.fit = config.data.fit;
    auto cache = args.count("reference_cache")
                     ? args["reference_cache"].as<std::string>()
                     : default_cache_dir() + "/fid/" + ref_name + "-" + std::to_string(image_size) +
                           "px-" + resolved_fit(ref_data) + "-" + extractor->name() + ".npz";
    if (std::ifstream(cache).good()) {
      reference = reference_from_npz(cache, image_size);
      spdlog::info("reference: cached features {}", cache);
      if (per_class) reference.class_names = load_dataset(ref_data).class_names;  // names only
    } else {
      auto data = load_dataset(ref_data);
      reference = reference_from_images(data, ref_name, *extractor, batch, device);
      auto slash = cache.find_last_of('/');
      if (slash != std::string::npos) ensure_directory(cache.substr(0, slash));
      write_npz(cache, {{"mu", reference.stats.mu}, {"sigma", reference.stats.sigma},
                        {"features", reference.features}, {"labels", reference.labels},
                        {"image_size", torch::tensor({static_cast<int64_t>(image_size)})}});
      spdlog::info("reference features cached in {}", cache);
    }
    reference.name = ref_name;
  } else {
    reference = reference_from_images(load_image_folder(ref_name, image_size, "resize"), ref_name,
                                      *extractor, batch, device);
  }

  report["reference"] = reference.name;
  report["image_size"] = image_size;

  if (!reader) {
    auto dir = args["images"].as<std::string>();
    candidate = dataset_features(*extractor, folder, batch, device, "image features");
    report["images"] = dir;
  }
  report["feature_images_per_sec"] = candidate.images_per_second;

  auto overall = score(reference.stats, reference.features, candidate.features, with_kid, seed);
  report["overall"] = scores_json(overall);
  std::cout << std::left << std::setw(14) << "set" << std::right << std::setw(10) << "FID"
            << (with_kid ? "   KIDx1000 (mean +- std)" : "") << std::setw(8) << "N" << "\n"
            << row("all", overall) << "\n";
  if (per_class) {
    if (!reference.labels.defined())
      throw Error("--per_class needs reference labels: use a dataset reference such as cifar10-train");
    nlohmann::json classes = nlohmann::json::array();
    int64_t k_max = reference.labels.max().item<int64_t>();
    for (int64_t k = 0; k <= k_max; ++k) {
      auto ref_rows = (reference.labels == k).nonzero().squeeze(1);
      auto cand_rows = (candidate.labels == k).nonzero().squeeze(1);
      if (ref_rows.size(0) < 2 || cand_rows.size(0) < 2) continue;
      auto ref_features = reference.features.index_select(0, ref_rows);
      auto s = score(feature_statistics(ref_features), ref_features,
                     candidate.features.index_select(0, cand_rows), with_kid, seed);
      std::string name = k < static_cast<int64_t>(reference.class_names.size())
                             ? reference.class_names[k] : std::to_string(k);
      std::cout << row(name, s) << "\n";
      auto j = scores_json(s);
      j["class"] = k;
      j["name"] = name;
      classes.push_back(j);
    }
    report["per_class"] = classes;
  }
  std::cout << "features: " << extractor->name() << ", " << std::setprecision(1) << std::fixed
            << candidate.images_per_second << " images/s\n";
  if (args.count("output"))
    write_file_atomic(args["output"].as<std::string>(), report.dump(2) + "\n");
  return 0;
}

}  // namespace flowlab
