#include <spdlog/spdlog.h>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "flowlab/bench/benchmarks.h"
#include "flowlab/bench/peak.h"
#include "flowlab/cli/commands.h"
#include "flowlab/cli/config_flags.h"
#include "flowlab/data/dataset.h"
#include "flowlab/dist/runtime.h"
#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/methods/registry.h"
#include "flowlab/recipe.h"

namespace flowlab {
namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

struct SamplingCase {
  std::string name, method, sampler;
  int steps;
  bool cfg;
};

// The sampling rows of the performance goals.
const std::vector<SamplingCase>& sampling_cases() {
  static const std::vector<SamplingCase> cases = {
      {"cfm euler 50 cfg", "cfm", "euler", 50, true},   {"cfm euler 50", "cfm", "euler", 50, false},
      {"cfm heun 25 cfg", "cfm", "heun", 25, true},     {"cfm rk45 cfg", "cfm", "rk45", 50, true},
      {"ddpm 50 cfg", "ddpm", "ddpm", 50, true},        {"meanflow 1", "meanflow", "meanflow", 1, false},
      {"meanflow 2", "meanflow", "meanflow", 2, false},
  };
  return cases;
}

// The results table; `peak_tflops` (0: not measured) is the yardstick of the utilisation column.
class Report {
 public:
  explicit Report(double peak_tflops) : peak_tflops_(peak_tflops) {
    std::cout << std::left << std::setw(34) << "measure" << std::right << std::setw(12) << "images/s"
              << std::setw(6) << "NFE" << std::setw(13) << "parameters" << std::setw(10) << "seconds"
              << std::setw(11) << "GFLOP/img" << std::setw(9) << "TFLOP/s" << std::setw(7) << "util" << "\n";
  }
  void add(const std::string& kind, const std::string& name, const Measurement& m) {
    double tflops = m.flops_per_image * m.images_per_second / 1e12;
    double utilisation = peak_tflops_ > 0 ? tflops / peak_tflops_ : 0.0;
    std::cout << std::left << std::setw(34) << (kind + " " + name) << std::right << std::fixed
              << std::setprecision(1) << std::setw(12) << m.images_per_second << std::setw(6)
              << m.nfe << std::setw(13) << m.parameters << std::setprecision(2) << std::setw(10)
              << m.seconds;
    if (m.flops_per_image > 0)
      std::cout << std::setprecision(3) << std::setw(11) << m.flops_per_image / 1e9 << std::setw(9) << tflops
                << std::setprecision(1) << std::setw(6) << 100 * utilisation << "%";
    std::cout << std::endl;
    nlohmann::json row = {{"kind", kind},         {"name", name},     {"images_per_sec", m.images_per_second},
                          {"seconds", m.seconds}, {"images", m.images}, {"nfe", m.nfe},
                          {"parameters", m.parameters}};
    if (m.flops_per_image > 0) {
      row["gflop_per_image"] = m.flops_per_image / 1e9;
      row["tflops"] = tflops;
      if (peak_tflops_ > 0) row["utilisation"] = utilisation;
    }
    rows_.push_back(row);
  }
  nlohmann::json rows() const { return rows_; }

 private:
  double peak_tflops_;
  nlohmann::json rows_ = nlohmann::json::array();
};

// The device's attainable peak, printed and recorded in `report`; returns that of `precision`
// (0 for bf16 where the device has no native bf16).
double measure_peak(torch::Device device, const std::string& precision, nlohmann::json& report) {
  auto peak = attainable_peak(device);
  report["peak_tflops_fp32"] = peak.fp32_tflops;
  if (peak.bf16_tflops) report["peak_tflops_bf16"] = *peak.bf16_tflops;
  std::cout << "attainable peak (n x n matrix product): " << std::setprecision(3) << std::fixed << peak.fp32_tflops
            << " TFLOP/s fp32" << (peak.bf16_tflops ? ", " + std::to_string(*peak.bf16_tflops) + " TFLOP/s bf16" : "")
            << "\n";
  return precision == "bf16" ? peak.bf16_tflops.value_or(0.0) : peak.fp32_tflops;
}

// benchmark's flags; `bindings` gets those that set config keys.
cxxopts::Options benchmark_options(std::vector<FlagBinding>& bindings) {
  cxxopts::Options options(
      "benchmark",
      "Throughput of training steps, sampling, FID features and the data pipeline, and peak memory. "
      "Training and sampling rows also give their FLOPs per image (convolutions and matrix products, "
      "2 per multiply-add), the TFLOP/s reached, and utilisation against the device's attainable peak "
      "(a large matrix product in the rows' precision, measured first). "
      "Models are untrained: sampling speed does not depend on the weights, except RK45's NFE.");
  bindings = {
      {"model", "model.type", "backbone: tiny_unet or dit (MeanFlow uses the two-time form)"},
      {"variant", "model.variant", "DiT size, e.g. DiT-S/2"},
      {"batch_size", "training.batch_size", "training batch"},
      {"image_size", "data.image_size", "image side"},
      {"channels", "model.in_channels", "image channels"},
      {"cfg_scale", "sampling.cfg_scale", "CFG scale of the sampling rows marked cfg"},
      {"sample_batch_size", "sampling.batch_size", "sampling batch"},
      {"num_samples", "sampling.num_samples", "images per sampling row"},
      {"data_dir", "data.data_dir", "CIFAR-10 for the data pipeline row (default: shapes)"},
  };
  append_device_flags(bindings);
  add_config_flags(options, bindings);
  options.add_options()(
      "suite", "comma-separated: train, sample, features, data",
      cxxopts::value<std::string>()->default_value("train,sample,features,data"), "LIST")(
      "methods", "training rows: comma-separated methods",
      cxxopts::value<std::string>()->default_value("cfm,ddpm,meanflow"), "LIST")(
      "steps", "timed training steps per method", cxxopts::value<int>()->default_value("10"), "N")(
      "warmup", "untimed training steps first", cxxopts::value<int>()->default_value("2"), "N")(
      "feature_images", "images through Inception", cxxopts::value<int64_t>()->default_value("64"), "N")(
      "output", "write the results as JSON here", cxxopts::value<std::string>(), "FILE")(
      "profile", "also profile each training row: DIR/flowlab_train_<method>.json (chrome trace)",
      cxxopts::value<std::string>(), "DIR")(
      "h,help", "show this help");
  return options;
}

}  // namespace

int benchmark_command(int argc, char** argv) {
  std::vector<FlagBinding> bindings;
  auto options = benchmark_options(bindings);
  auto parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const auto& args = *parsed;

  Config base;
  base.model.num_classes = 10;
  base.training.batch_size = 64;
  base.sampling.num_samples = 64;
  base.sampling.batch_size = 64;
  apply_config_flags(base, args, bindings);
  int steps = args["steps"].as<int>(), warmup = args["warmup"].as<int>();
  if (steps <= 0 || warmup < 0) throw Error("--steps must be > 0 and --warmup >= 0");
  auto suite = split_list(args["suite"].as<std::string>());
  auto methods = split_list(args["methods"].as<std::string>());
  for (const auto& m : methods) validate(for_method(base, m, false));
  auto wants = [&](const std::string& part) {
    return std::find(suite.begin(), suite.end(), part) != suite.end();
  };
  for (const auto& part : suite)
    if (part != "train" && part != "sample" && part != "features" && part != "data")
      throw Error("--suite " + part + ": use train, sample, features, data");
  if (args.count("output")) {
    auto dir = std::filesystem::path(args["output"].as<std::string>()).parent_path().string();
    check_directory_creatable(dir.empty() ? "." : dir);
  }
  std::string profile_dir = args.count("profile") ? args["profile"].as<std::string>() : "";
  if (!profile_dir.empty()) ensure_directory(profile_dir);
  configure_threads(base.training.threads);
  auto device = resolve_device(base.training.device);

  nlohmann::json report = {{"device", base.training.device},
                           {"threads", torch::get_num_threads()},
                           {"model", base.model.type},
                           {"variant", base.model.variant},
                           {"batch_size", base.training.batch_size},
                           {"image_size", base.data.image_size},
                           {"precision", base.compute.precision}};
  double peak_tflops = wants("train") || wants("sample") ? measure_peak(device, base.compute.precision, report) : 0;
  Report table(peak_tflops);
  if (wants("train")) {
    for (const auto& method : methods)
      table.add("train", method + " " + for_method(base, method, false).model.type,
                time_training(for_method(base, method, false), warmup, steps, device,
                              profile_dir.empty() ? "" : profile_dir + "/flowlab_train_" + method + ".json"));
    report["peak_rss_after_training_bytes"] = peak_rss_bytes();
  }
  if (wants("sample")) {
    for (const auto& c : sampling_cases()) {
      auto config = for_method(base, c.method, false);
      config.sampling.sampler = c.sampler;
      config.sampling.steps = c.steps;
      if (!c.cfg) config.sampling.cfg_scale = 1.0;
      table.add("sample", c.name, time_sampling(config, device));
    }
  }
  if (wants("features")) {
    auto extractor = make_inception_extractor("random", device);
    table.add("features", "inception pool3", time_features(*extractor, args["feature_images"].as<int64_t>(),
                                                           base.data.image_size, base.sampling.batch_size, device));
  }
  if (wants("data")) {
    DataConfig data_config = base.data;
    data_config.dataset = base.data.data_dir.empty() ? "shapes" : "cifar10";
    auto data = load_dataset(data_config);
    table.add("data", data_config.dataset + " batches", time_data_pipeline(data, base.training.batch_size, 200, device));
  }
  report["results"] = table.rows();
  report["peak_rss_bytes"] = peak_rss_bytes();
  std::cout << "peak RSS " << std::setprecision(0) << peak_rss_bytes() / 1048576.0 << " MiB\n";
  if (args.count("output")) write_file_atomic(args["output"].as<std::string>(), report.dump(2) + "\n");
  return 0;
}

}  // namespace flowlab
