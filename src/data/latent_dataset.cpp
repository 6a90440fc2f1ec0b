#include "flowlab/data/latent_dataset.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>

#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/safetensors.h"

namespace flowlab {
namespace {

constexpr const char* kLatentsFormat = "flowlab-latents";
constexpr int kLatentsVersion = 1;

torch::Tensor take(Safetensors& file, const std::string& name, torch::Dtype dtype, const std::string& path) {
  auto it = file.tensors.find(name);
  if (it == file.tensors.end()) throw Error(path + ": no tensor " + name + " (not a latent shard?)");
  if (it->second.scalar_type() != dtype)
    throw Error(path + ": tensor " + name + " is " + c10::toString(it->second.scalar_type()) + ", not " +
                c10::toString(dtype));
  return it->second;
}

}  // namespace

std::string latent_shard_name(int64_t shard) {
  char name[48];
  std::snprintf(name, sizeof(name), "shard-%05lld.safetensors", static_cast<long long>(shard));
  return name;
}

void write_latent_shard(const std::string& dir, int64_t shard, int64_t first_row, const LatentShard& rows,
                        const std::string& vae_sha256) {
  std::map<std::string, torch::Tensor> tensors = {
      {"mean", rows.mean.to(torch::kFloat32)}, {"std", rows.std.to(torch::kFloat32)}, {"labels", rows.labels}};
  if (rows.flip_mean.defined()) {
    tensors["flip_mean"] = rows.flip_mean.to(torch::kFloat32);
    tensors["flip_std"] = rows.flip_std.to(torch::kFloat32);
  }
  write_safetensors((std::filesystem::path(dir) / latent_shard_name(shard)).string(), tensors,
                    {{"vae_sha256", vae_sha256}, {"first_row", std::to_string(first_row)}});
}

LatentShard read_latent_shard(const std::string& path, bool flips, std::string* vae_sha256) {
  auto file = read_safetensors(path);
  LatentShard s;
  s.mean = take(file, "mean", torch::kFloat32, path);
  s.std = take(file, "std", torch::kFloat32, path);
  s.labels = take(file, "labels", torch::kInt64, path);
  if (flips || file.tensors.count("flip_mean")) {
    s.flip_mean = take(file, "flip_mean", torch::kFloat32, path);
    s.flip_std = take(file, "flip_std", torch::kFloat32, path);
  }
  if (s.mean.dim() != 4 || s.labels.dim() != 1 || s.labels.size(0) != s.mean.size(0))
    throw Error(path + ": mean must be (n, c, h, w) and labels (n,)");
  for (const auto& t : {s.std, s.flip_mean, s.flip_std})
    if (t.defined() && t.sizes() != s.mean.sizes())
      throw Error(path + ": std and the flipped posterior must have mean's shape");
  if (vae_sha256) {
    auto it = file.metadata.find("vae_sha256");
    *vae_sha256 = it == file.metadata.end() ? "" : it->second;
  }
  return s;
}

void write_latent_index(const std::string& dir, int64_t images, int64_t shard_size,
                        const std::vector<int64_t>& latent_shape, bool flips,
                        const std::vector<std::string>& class_names, const AutoencoderIdentity& vae,
                        const LatentSource& source) {
  nlohmann::json shards = nlohmann::json::array();
  for (int64_t k = 0; k * shard_size < images; ++k) shards.push_back(latent_shard_name(k));
  nlohmann::json index = {
      {"format", kLatentsFormat},
      {"version", kLatentsVersion},
      {"images", images},
      {"latent_shape", latent_shape},
      {"shard_size", shard_size},
      {"shards", shards},
      {"flips", flips},
      {"class_names", class_names},
      {"vae",
       {{"path", vae.path}, {"sha256", vae.sha256}, {"scaling_factor", vae.scaling_factor},
        {"shift_factor", vae.shift_factor}}},
      {"source",
       {{"dataset", source.dataset}, {"split", source.split}, {"image_size", source.image_size},
        {"fit", source.fit}}}};
  write_file_atomic((std::filesystem::path(dir) / "latents.json").string(), index.dump(2) + "\n");
}

LatentDataset read_latent_dataset(const std::string& dir) {
  auto index_path = (std::filesystem::path(dir) / "latents.json").string();
  if (!std::filesystem::is_regular_file(index_path))
    throw Error(dir + " holds no latents.json (encode a dataset with encode_latents; an unfinished run "
                "writes it last)");
  LatentDataset out;
  std::vector<std::string> shards;
  int64_t images = 0, shard_size = 0;
  std::vector<int64_t> shape;
  try {
    auto j = nlohmann::json::parse(read_file_text(index_path));
    if (j.value("format", "") != kLatentsFormat) throw Error(index_path + " is not a flowlab latent index");
    if (j.at("version").get<int>() != kLatentsVersion)
      throw Error(index_path + ": version " + std::to_string(j.at("version").get<int>()) + ", this flowlab reads " +
                  std::to_string(kLatentsVersion));
    images = j.at("images").get<int64_t>();
    shard_size = j.at("shard_size").get<int64_t>();
    shape = j.at("latent_shape").get<std::vector<int64_t>>();
    shards = j.at("shards").get<std::vector<std::string>>();
    out.flips = j.at("flips").get<bool>();
    out.class_names = j.at("class_names").get<std::vector<std::string>>();
    const auto& v = j.at("vae");
    out.vae = {v.at("path").get<std::string>(), v.at("sha256").get<std::string>(),
               v.at("scaling_factor").get<double>(), v.at("shift_factor").get<double>()};
    const auto& s = j.at("source");
    out.source = {s.at("dataset").get<std::string>(), s.at("split").get<std::string>(),
                  s.at("fit").get<std::string>(), s.at("image_size").get<int64_t>()};
  } catch (const nlohmann::json::exception& e) {
    throw Error(index_path + ": " + e.what());
  }
  if (images <= 0 || shard_size <= 0 || shape.size() != 3 ||
      static_cast<int64_t>(shards.size()) != images / shard_size + (images % shard_size != 0))
    throw Error(index_path + ": images, shard_size, latent_shape and shards do not agree");

  std::vector<LatentShard> parts;
  for (size_t k = 0; k < shards.size(); ++k) {
    auto path = (std::filesystem::path(dir) / shards[k]).string();
    if (shards[k] != latent_shard_name(static_cast<int64_t>(k)) || !std::filesystem::is_regular_file(path))
      throw Error(index_path + " lists " + shards[k] + ", which is missing");
    std::string sha;
    auto part = read_latent_shard(path, out.flips, &sha);
    int64_t expected = std::min(shard_size, images - static_cast<int64_t>(k) * shard_size);
    if (part.mean.size(0) != expected || part.mean.sizes().slice(1).vec() != shape)
      throw Error(path + " holds " + std::to_string(part.mean.size(0)) + " rows of another shape than the " +
                  std::to_string(expected) + " the index says");
    if (sha != out.vae.sha256) throw Error(path + " was encoded by another autoencoder than the index names");
    parts.push_back(std::move(part));
  }
  auto cat = [&](torch::Tensor LatentShard::*field) {
    std::vector<torch::Tensor> pieces;
    for (const auto& p : parts) pieces.push_back(p.*field);
    return pieces.front().defined() ? torch::cat(pieces) : torch::Tensor();
  };
  out.rows = {cat(&LatentShard::mean), cat(&LatentShard::std), cat(&LatentShard::labels),
              cat(&LatentShard::flip_mean), cat(&LatentShard::flip_std)};
  if (!out.class_names.empty() &&
      (out.rows.labels.min().item<int64_t>() < 0 ||
       out.rows.labels.max().item<int64_t>() >= static_cast<int64_t>(out.class_names.size())))
    throw Error(dir + ": a label is outside the " + std::to_string(out.class_names.size()) + " classes");
  return out;
}

}  // namespace flowlab
