#include "targets.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "flowlab/config.h"
#include "flowlab/data/cifar10.h"
#include "flowlab/data/couplings.h"
#include "flowlab/data/latent_dataset.h"
#include "flowlab/data/mnist.h"
#include "flowlab/error.h"
#include "flowlab/io/image.h"
#include "flowlab/io/npz.h"
#include "flowlab/io/pickle.h"
#include "flowlab/io/safetensors.h"
#include "flowlab/io/torch_file.h"
#include "flowlab/recipe.h"
#include "flowlab/training/checkpoint.h"

namespace flowlab::fuzz {
namespace {

// A per-process scratch directory: fuzzing jobs may run side by side.
const std::string& scratch() {
  static const std::string dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("flowlab_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  return dir;
}

std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
  auto path = scratch() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

template <class F>
void rejecting_cleanly(F&& f) {
  try {
    f();
  } catch (const Error&) {
  }
}

void config(const uint8_t* data, size_t size) {
  rejecting_cleanly([&] {
    Config c;
    apply_config_text(c, std::string(reinterpret_cast<const char*>(data), size));
    validate(c);
  });
}

void cifar(const uint8_t* data, size_t size) {
  write_input(data, size, "test_batch.bin");
  rejecting_cleanly([&] { load_cifar10(scratch(), "test"); });
}

void idx(const uint8_t* data, size_t size) {
  auto path = write_input(data, size, "images.idx");
  rejecting_cleanly([&] { read_idx(path, 2051); });
}

void npz(const uint8_t* data, size_t size) {
  auto path = write_input(data, size, "arrays.npz");
  rejecting_cleanly([&] { read_npz(path); });
}

void checkpoint(const uint8_t* data, size_t size) {
  auto path = write_input(data, size, "last.pt");
  rejecting_cleanly([&] { CheckpointReader reader(path); });
}

// A torch.save file from anywhere: published checkpoints come from the internet.
void torch_file(const uint8_t* data, size_t size) {
  rejecting_cleanly([&] { read_torch_bytes(std::vector<uint8_t>(data, data + size), "input"); });
}

// A pickle alone (a torch.save file's data.pkl), past the zip checksums that stop most mutations
// of a whole file; persistent ids (storages) are refused.
void pickle(const uint8_t* data, size_t size) {
  rejecting_cleanly([&] {
    unpickle(data, size, [](const PickleValue&) -> PickleValue { throw Error("input: no storages here"); }, "input");
  });
}

void safetensors(const uint8_t* data, size_t size) {
  rejecting_cleanly([&] { parse_safetensors(std::string(reinterpret_cast<const char*>(data), size), "input"); });
}

// The input is a latent index (latents.json) beside one valid shard of two 1x2x2 posteriors.
void latents(const uint8_t* data, size_t size) {
  static const bool shard_written = [] {
    LatentShard shard;
    shard.mean = torch::arange(8, torch::kFloat32).reshape({2, 1, 2, 2});
    shard.std = torch::ones({2, 1, 2, 2});
    shard.labels = torch::tensor({0, 1}, torch::kInt64);
    write_latent_shard(scratch(), 0, 0, shard, "0123");
    return true;
  }();
  (void)shard_written;
  write_input(data, size, "latents.json");
  rejecting_cleanly([&] { read_latent_dataset(scratch()); });
}

// The input is a couplings index (couplings.json) beside one valid part of two 1x2x2 pairs.
void couplings(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    auto d = scratch() + "/couplings";
    std::filesystem::create_directories(d);
    write_couplings_part(d, 0, torch::zeros({2, 1, 2, 2}), torch::ones({2, 1, 2, 2}), torch::tensor({0, 1}));
    return d;
  }();
  write_input(data, size, "couplings/couplings.json");
  rejecting_cleanly([&] { load_couplings(dir); });
}

void image(const uint8_t* data, size_t size) {
  auto path = write_input(data, size, "image.png");
  rejecting_cleanly([&] { read_image(path, 3); });
}

}  // namespace

const std::vector<NamedTarget>& targets() {
  static const std::vector<NamedTarget> all = {{"config", config}, {"cifar", cifar},
                                               {"idx", idx},       {"npz", npz},
                                               {"checkpoint", checkpoint}, {"image", image},
                                               {"safetensors", safetensors}, {"latents", latents},
                                               {"torch_file", torch_file}, {"pickle", pickle},
                                               {"couplings", couplings}};
  return all;
}

Target find_target(const std::string& name) {
  for (const auto& t : targets())
    if (t.name == name) return t.run;
  throw std::invalid_argument("no fuzz target '" + name + "'");
}

}  // namespace flowlab::fuzz
