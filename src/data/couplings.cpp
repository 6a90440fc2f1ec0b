#include "flowlab/data/couplings.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>

#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/npz.h"

namespace flowlab {
namespace {

constexpr const char* kCouplingsFormat = "flowlab-couplings";
constexpr int kCouplingsVersion = 1;

std::string manifest_path(const std::string& dir) { return (std::filesystem::path(dir) / "couplings.json").string(); }

}  // namespace

bool CouplingsManifest::same_request(const CouplingsManifest& o) const {
  return checkpoint == o.checkpoint && sampler == o.sampler && steps == o.steps && cfg_scale == o.cfg_scale &&
         seed == o.seed && num_samples == o.num_samples && batch_size == o.batch_size && shape == o.shape;
}

void write_couplings_manifest(const std::string& dir, const CouplingsManifest& m) {
  nlohmann::json j = {{"format", kCouplingsFormat}, {"version", kCouplingsVersion}, {"checkpoint", m.checkpoint},
                      {"sampler", m.sampler},         {"steps", m.steps},               {"cfg_scale", m.cfg_scale},
                      {"seed", m.seed},               {"num_samples", m.num_samples},   {"batch_size", m.batch_size},
                      {"shape", m.shape},             {"class_names", m.class_names}};
  write_file_atomic(manifest_path(dir), j.dump(2) + "\n");
}

CouplingsManifest read_couplings_manifest(const std::string& dir) {
  const auto path = manifest_path(dir);
  if (!std::filesystem::is_regular_file(path))
    throw Error(dir + " holds no couplings.json (make couplings with generate_samples --couplings DIR)");
  CouplingsManifest m;
  try {
    auto j = nlohmann::json::parse(read_file_text(path));
    if (!j.is_object() || j.value("format", "") != kCouplingsFormat) throw Error(path + " is not a flowlab couplings index");
    if (j.at("version").get<int>() != kCouplingsVersion)
      throw Error(path + ": version " + j.at("version").dump() + ", this flowlab reads " + std::to_string(kCouplingsVersion));
    m.checkpoint = j.at("checkpoint").get<std::string>();
    m.sampler = j.at("sampler").get<std::string>();
    m.steps = j.at("steps").get<int64_t>();
    m.cfg_scale = j.at("cfg_scale").get<double>();
    m.seed = j.at("seed").get<uint64_t>();
    m.num_samples = j.at("num_samples").get<int64_t>();
    m.batch_size = j.at("batch_size").get<int64_t>();
    m.shape = j.at("shape").get<std::vector<int64_t>>();
    m.class_names = j.at("class_names").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": " + e.what());
  }
  bool shape_ok = m.shape.size() == 3;
  for (auto d : m.shape) shape_ok = shape_ok && d > 0 && d <= 4096;
  if (m.num_samples <= 0 || m.batch_size <= 0 || !shape_ok)
    throw Error(path + ": num_samples, batch_size and shape (c, h, w) must be positive");
  return m;
}

std::string couplings_part_path(const std::string& dir, int64_t part) {
  char name[32];
  std::snprintf(name, sizeof(name), "part-%05lld.npz", static_cast<long long>(part));
  return (std::filesystem::path(dir) / name).string();
}

void write_couplings_part(const std::string& dir, int64_t part, const torch::Tensor& noise,
                          const torch::Tensor& images, const torch::Tensor& labels) {
  write_npz(couplings_part_path(dir, part), {{"noise", noise.to(torch::kFloat32).contiguous().cpu()},
                                             {"images", images.to(torch::kFloat32).contiguous().cpu()},
                                             {"labels", labels.to(torch::kInt64).contiguous().cpu()}});
}

Dataset load_couplings(const std::string& dir) {
  auto m = read_couplings_manifest(dir);
  std::vector<torch::Tensor> noise, images, labels;
  for (int64_t b = 0; b < m.parts(); ++b) {
    const auto path = couplings_part_path(dir, b);
    if (!std::filesystem::is_regular_file(path))
      throw Error(dir + " is unfinished: it lacks " + std::filesystem::path(path).filename().string() + " of " +
                  std::to_string(m.parts()) + " parts (rerun the same generate_samples --couplings command)");
    auto arrays = read_npz(path);
    const int64_t rows = std::min(m.batch_size, m.num_samples - b * m.batch_size);
    std::vector<int64_t> shape{rows, m.shape[0], m.shape[1], m.shape[2]};
    for (const char* key : {"noise", "images", "labels"})
      if (!arrays.count(key)) throw Error(path + " has no array " + key);
    auto is = [](const torch::Tensor& t, torch::ScalarType type, const std::vector<int64_t>& sizes) {
      return t.scalar_type() == type && t.sizes().vec() == sizes;
    };
    if (!is(arrays["noise"], torch::kFloat32, shape) || !is(arrays["images"], torch::kFloat32, shape) ||
        !is(arrays["labels"], torch::kInt64, {rows}))
      throw Error(path + " does not hold float32 noise and images of shape " + c10::str(c10::IntArrayRef(shape)) +
                  " and int64 labels of (" + std::to_string(rows) + ",), as couplings.json says");
    noise.push_back(arrays["noise"]);
    images.push_back(arrays["images"]);
    labels.push_back(arrays["labels"]);
  }
  Dataset d;
  d.name = "couplings of " + m.checkpoint;
  d.noise = torch::cat(noise);
  d.images = torch::cat(images);
  d.labels = torch::cat(labels);
  d.class_names = m.class_names;
  const int64_t classes = d.num_classes();
  if (d.labels.min().item<int64_t>() < 0 || d.labels.max().item<int64_t>() > classes)
    throw Error(dir + ": a label is outside the " + std::to_string(classes) + " classes and the null label");
  return d;
}

}  // namespace flowlab
