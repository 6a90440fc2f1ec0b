#include "flowlab/training/checkpoint.h"

#include <cmath>
#include <filesystem>
#include <sstream>

#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/safetensors.h"
#include "flowlab/io/zip.h"

namespace flowlab {
namespace {

// The archive key of the i-th EMA of training.ema_decay_list(): "ema" for the first, as in
// checkpoints from before several EMAs.
std::string ema_archive_key(size_t i) { return i == 0 ? std::string("ema") : "ema_" + std::to_string(i); }

}  // namespace

void save_checkpoint(const std::string& path, const TrainingSnapshot& s) {
  torch::serialize::OutputArchive archive;
  archive.write("format_version", torch::tensor(kCheckpointFormat));
  archive.write("config", c10::IValue(config_to_yaml(s.config)));
  archive.write("step", torch::tensor(s.step));
  c10::List<std::string> names;
  for (const auto& n : s.class_names) names.push_back(n);
  archive.write("class_names", c10::IValue(names));
  torch::serialize::OutputArchive model_archive, optimizer_archive;
  s.model.save(model_archive);
  s.optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  for (size_t i = 0; i < s.emas.size(); ++i) {
    torch::serialize::OutputArchive ema_archive;
    s.emas[i]->save(ema_archive);
    archive.write(ema_archive_key(i), ema_archive);
  }
  archive.write("optimizer", optimizer_archive);
  if (s.method && s.method->has_state()) {
    torch::serialize::OutputArchive method_archive;
    s.method->save_state(method_archive);
    archive.write("method", method_archive);
  }
  archive.write("rng_cpu", at::detail::getDefaultCPUGenerator().get_state());
  if (torch::cuda::is_available())
    archive.write("rng_cuda", at::globalContext().defaultGenerator(torch::kCUDA).get_state());
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomic(path, bytes.str());
}

CheckpointReader::CheckpointReader(const std::string& path, torch::Device device) : path_(path) {
  if (!std::filesystem::is_regular_file(path)) throw Error("checkpoint " + path + " does not exist");
  // LibTorch's reader does not check the zip checksums and can crash on corrupt bytes; checking
  // them first turns truncation and bit rot into a clear error.
  try {
    verify_zip_checksums(read_file_bytes(path), "checkpoint " + path);
    archive_.load_from(path, device);
  } catch (const std::exception& e) {
    throw Error("checkpoint " + path + " is not a readable checkpoint (truncated, corrupt, or not "
                "written by flowlab): " + one_line_message(e));
  }
  try {
    read_header();
  } catch (const c10::Error& e) {
    throw Error("checkpoint " + path + " is malformed: " + one_line_message(e));
  }
}

void CheckpointReader::read_header() {
  const auto& path = path_;
  torch::Tensor format;
  if (!archive_.try_read("format_version", format))
    throw Error("checkpoint " + path + " has no format_version: not a flowlab checkpoint "
                "(for plain weight files use them from Python)");
  int64_t version = format.item<int64_t>();
  if (version > kCheckpointFormat)
    throw Error("checkpoint " + path + " has format " + std::to_string(version) +
                ", newer than this build reads (" + std::to_string(kCheckpointFormat) +
                "); update flowlab");
  c10::IValue config_text;
  if (!archive_.try_read("config", config_text) || !config_text.isString())
    throw Error("checkpoint " + path + " has no config");
  apply_config_text(config_, config_text.toStringRef());
  torch::Tensor step;
  archive_.read("step", step);
  step_ = step.item<int64_t>();
  c10::IValue names;
  if (archive_.try_read("class_names", names) && names.isList())
    for (const auto& n : names.toListRef()) class_names_.push_back(n.toStringRef());
}

std::string CheckpointReader::ema_key(double decay) const {
  const auto decays = config_.training.ema_decay_list();
  for (size_t i = 0; i < decays.size(); ++i)
    if (std::abs(decays[i] - decay) <= 1e-12) return ema_archive_key(i);
  return "";
}

bool CheckpointReader::has_ema(double decay) const { return !ema_key(decay).empty(); }

void CheckpointReader::load_weights(Backbone& model, const WeightChoice& choice) {
  std::string key = "model";
  if (choice.ema) {
    key = choice.ema_decay == 0 ? "ema" : ema_key(choice.ema_decay);
    if (key.empty()) {
      std::string kept;
      for (double d : config_.training.ema_decay_list()) kept += (kept.empty() ? "" : ", ") + c10::str(d);
      throw Error("checkpoint " + path_ + " keeps EMA decays " + kept + "; " + c10::str(choice.ema_decay) +
                  " is not one of them");
    }
  }
  torch::serialize::InputArchive sub;
  if (!archive_.try_read(key, sub)) throw Error("checkpoint " + path_ + " has no " + key + " weights");
  try {
    model.load(sub);
  } catch (const c10::Error& e) {
    throw Error("checkpoint " + path_ + ": " + key + " weights do not fit model.type " +
                config_.model.type + ": " + one_line_message(e));
  }
}

void CheckpointReader::load_optimizer(torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive sub;
  if (!archive_.try_read("optimizer", sub))
    throw Error("checkpoint " + path_ + " has no optimizer state");
  optimizer.load(sub);
}

void CheckpointReader::load_method_state(Method& method) {
  torch::serialize::InputArchive sub;
  if (method.has_state() && archive_.try_read("method", sub)) method.load_state(sub);
}

void CheckpointReader::restore_rng() {
  torch::Tensor state;
  // Generator states are CPU byte tensors, whatever device the archive was read onto.
  if (archive_.try_read("rng_cpu", state)) {
    auto gen = at::detail::getDefaultCPUGenerator();
    gen.set_state(state.cpu());
  }
  if (torch::cuda::is_available() && archive_.try_read("rng_cuda", state)) {
    auto gen = at::globalContext().defaultGenerator(torch::kCUDA);
    gen.set_state(state.cpu());
  }
}

std::map<std::string, torch::Tensor> named_weights(const torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> weights;
  for (const auto& p : module.named_parameters()) weights[p.key()] = p.value().detach().cpu().clone();
  for (const auto& b : module.named_buffers()) weights[b.key()] = b.value().detach().cpu().clone();
  return weights;
}

void load_named_weights(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& weights,
                        const std::string& what, const std::string& keep) {
  std::map<std::string, torch::Tensor> targets;
  auto kept = [&](const std::string& name) { return !keep.empty() && name.rfind(keep + ".", 0) == 0; };
  for (const auto& p : module.named_parameters())
    if (!kept(p.key())) targets[p.key()] = p.value();
  for (const auto& b : module.named_buffers())
    if (!kept(b.key())) targets[b.key()] = b.value();
  for (const auto& [name, tensor] : weights)
    if (!targets.count(name)) throw Error(what + " has a tensor " + name + " that the model does not have");
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    auto it = weights.find(name);
    if (it == weights.end()) throw Error(what + " has no tensor " + name);
    if (it->second.sizes() != target.sizes())
      throw Error(what + ": " + name + " has shape " + c10::str(it->second.sizes()) + ", the model's is " +
                  c10::str(target.sizes()));
    target.copy_(it->second.to(target.device(), target.scalar_type()));
  }
}

void export_weights_safetensors(const std::string& path, Backbone& model, const Config& config) {
  write_safetensors(path, named_weights(model),
                    {{"format", "pt"}, {"flowlab_model", config.model.type},
                     {"flowlab_config", config_to_yaml(config)}});
}

void export_weights(const std::string& path, Backbone& model) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : named_weights(model)) dict.insert(name, tensor);
  auto bytes = torch::pickle_save(c10::IValue(dict));
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace flowlab
