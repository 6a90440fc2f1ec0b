#include "flowlab/training/checkpoint.h"

#include <cmath>
#include <filesystem>
#include <functional>
#include <sstream>

#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/safetensors.h"
#include "flowlab/io/torch_file.h"
#include "flowlab/io/zip.h"
#include "flowlab/strings.h"

namespace flowlab {
namespace {

// The archive key of the i-th EMA of training.ema_decay_list(): "ema" for the first, as in
// checkpoints from before several EMAs.
std::string ema_archive_key(size_t i) { return i == 0 ? std::string("ema") : "ema_" + std::to_string(i); }

std::string archive_bytes(const std::function<void(torch::serialize::OutputArchive&)>& fill) {
  torch::serialize::OutputArchive archive;
  fill(archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  return bytes.str();
}

torch::serialize::InputArchive archive_of(const torch::Tensor& bytes, torch::Device device) {
  torch::serialize::InputArchive archive;
  auto data = tensor_bytes(bytes);
  archive.load_from(data.data(), data.size(), device);
  return archive;
}

// A flowlab checkpoint of format 1 is LibTorch's own archive (a TorchScript module); format 2 is a
// torch.save file.
bool is_libtorch_archive(const std::vector<uint8_t>& bytes, const std::string& path) {
  for (const auto& m : zip_members(bytes, path))
    if (ends_with(m.name, "/constants.pkl")) return true;
  return false;
}

// A checkpoint's entries before its weights: format, step, config, class names.
class CheckpointEntries {
 public:
  CheckpointEntries(const Config& config, int64_t step, const std::vector<std::string>& class_names) {
    add("format_version", PickleValue::integer(kCheckpointFormat));
    add("step", PickleValue::integer(step));
    add("config", PickleValue::string(config_to_yaml(config)));
    std::vector<PickleValue> names;
    for (const auto& n : class_names) names.push_back(PickleValue::string(n));
    add("class_names", PickleValue::list(std::move(names)));
  }
  void add(const std::string& key, PickleValue value) { entries_.emplace_back(PickleValue::string(key), std::move(value)); }
  void write(const std::string& path) { write_torch_file(path, PickleValue::dict(std::move(entries_))); }

 private:
  std::vector<PickleValue::Entry> entries_;
};

}  // namespace

void save_weights_checkpoint(const std::string& path, const Config& config,
                             const std::map<std::string, torch::Tensor>& weights) {
  CheckpointEntries entries(config, 0, {});
  entries.add("model", state_dict_value(weights));
  entries.add("ema", state_dict_value(weights));
  entries.write(path);
}

void save_checkpoint(const std::string& path, const TrainingSnapshot& s) {
  CheckpointEntries entries(s.config, s.step, s.class_names);
  auto add = [&](const std::string& key, PickleValue value) { entries.add(key, std::move(value)); };
  add("model", state_dict_value(named_weights(s.model)));
  for (size_t i = 0; i < s.emas.size(); ++i) add(ema_archive_key(i), state_dict_value(named_weights(*s.emas[i])));
  add("optimizer", PickleValue::tensor(bytes_tensor(archive_bytes([&](auto& a) { s.optimizer.save(a); }))));
  if (s.method && s.method->has_state())
    add("method", PickleValue::tensor(bytes_tensor(archive_bytes([&](auto& a) { s.method->save_state(a); }))));
  add("rng_cpu", PickleValue::tensor(at::detail::getDefaultCPUGenerator().get_state()));
  if (torch::cuda::is_available())
    add("rng_cuda", PickleValue::tensor(at::globalContext().defaultGenerator(torch::kCUDA).get_state()));
  entries.write(path);
}

CheckpointReader::CheckpointReader(const std::string& path, torch::Device device) : path_(path), device_(device) {
  if (!std::filesystem::is_regular_file(path)) throw Error("checkpoint " + path + " does not exist");
  try {
    auto bytes = read_file_bytes(path);
    if (is_libtorch_archive(bytes, path)) {
      // LibTorch's reader does not check the zip checksums and can crash on corrupt bytes; checking
      // them first turns truncation and bit rot into a clear error (read_torch_bytes checks its own).
      verify_zip_checksums(bytes, "checkpoint " + path);
      archive_.load_from(path, device);
      libtorch_archive_ = true;
    } else {
      contents_ = read_torch_bytes(bytes, "checkpoint " + path);
    }
  } catch (const std::exception& e) {
    throw Error("checkpoint " + path + " is not a readable checkpoint (truncated, corrupt, or not "
                "written by flowlab): " + one_line_message(e));
  }
  try {
    read_header();
  } catch (const std::exception& e) {
    throw Error("checkpoint " + path + " is malformed: " + one_line_message(e));
  }
}

const PickleValue* CheckpointReader::entry(const std::string& key) const { return contents_.find(key); }

void CheckpointReader::read_header() {
  const auto& path = path_;
  auto check_version = [&](int64_t version) {
    if (version > kCheckpointFormat)
      throw Error("checkpoint " + path + " has format " + std::to_string(version) +
                  ", newer than this build reads (" + std::to_string(kCheckpointFormat) + "); update flowlab");
  };
  const std::string foreign = "checkpoint " + path + " has no format_version: not a flowlab checkpoint "
                              "(for plain weight files use them from Python)";
  std::string config_text;
  if (libtorch_archive_) {
    torch::Tensor format, step;
    if (!archive_.try_read("format_version", format)) throw Error(foreign);
    check_version(format.item<int64_t>());
    c10::IValue text, names;
    if (archive_.try_read("config", text) && text.isString()) config_text = text.toStringRef();
    if (archive_.try_read("step", step)) step_ = step.item<int64_t>();
    if (archive_.try_read("class_names", names) && names.isList())
      for (const auto& n : names.toListRef()) class_names_.push_back(n.toStringRef());
  } else {
    if (!contents_.is(PickleValue::Kind::Dict) || !entry("format_version")) throw Error(foreign);
    check_version(entry("format_version")->as_int());
    if (auto text = entry("config"); text && text->is(PickleValue::Kind::String)) config_text = text->as_string();
    if (auto step = entry("step")) step_ = step->as_int();
    if (auto names = entry("class_names"))
      for (const auto& n : names->items()) class_names_.push_back(n.as_string());
  }
  if (config_text.empty()) throw Error("checkpoint " + path + " has no config");
  apply_config_text(config_, config_text);
}

std::string CheckpointReader::ema_key(double decay) const {
  const auto decays = config_.training.ema_decay_list();
  for (size_t i = 0; i < decays.size(); ++i)
    if (std::abs(decays[i] - decay) <= 1e-12) return ema_archive_key(i);
  return "";
}

bool CheckpointReader::has_ema(double decay) const { return !ema_key(decay).empty(); }

void CheckpointReader::load_weights(Network& model, const WeightChoice& choice) {
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
  const std::string missing = "checkpoint " + path_ + " has no " + key + " weights";
  const std::string misfit = "checkpoint " + path_ + ": " + key + " weights do not fit model.type " + config_.model.type;
  if (!libtorch_archive_) {
    if (!entry(key)) throw Error(missing);
    try {
      load_named_weights(model, state_dict_of(*entry(key), key), "the " + key + " weights");
    } catch (const Error& e) {
      throw Error(misfit + ": " + e.what());
    }
    return;
  }
  torch::serialize::InputArchive sub;
  if (!archive_.try_read(key, sub)) throw Error(missing);
  try {
    model.load(sub);
  } catch (const c10::Error& e) {
    throw Error(misfit + ": " + one_line_message(e));
  }
}

void CheckpointReader::load_optimizer(torch::optim::Optimizer& optimizer) {
  const std::string missing = "checkpoint " + path_ + " has no optimizer state";
  if (!libtorch_archive_) {
    if (!entry("optimizer")) throw Error(missing);
    auto archive = archive_of(entry("optimizer")->as_tensor(), device_);
    optimizer.load(archive);
    return;
  }
  torch::serialize::InputArchive sub;
  if (!archive_.try_read("optimizer", sub)) throw Error(missing);
  optimizer.load(sub);
}

void CheckpointReader::load_method_state(Method& method) {
  if (!method.has_state()) return;
  if (!libtorch_archive_) {
    if (!entry("method")) return;
    auto archive = archive_of(entry("method")->as_tensor(), device_);
    method.load_state(archive);
    return;
  }
  torch::serialize::InputArchive sub;
  if (archive_.try_read("method", sub)) method.load_state(sub);
}

void CheckpointReader::restore_rng() {
  // Generator states are CPU byte tensors, whatever device the archive was read onto.
  auto state_of = [&](const std::string& key, torch::Tensor& state) {
    if (libtorch_archive_) return archive_.try_read(key, state);
    if (!entry(key)) return false;
    state = entry(key)->as_tensor();
    return true;
  };
  torch::Tensor state;
  if (state_of("rng_cpu", state)) {
    auto gen = at::detail::getDefaultCPUGenerator();
    gen.set_state(state.cpu());
  }
  if (torch::cuda::is_available() && state_of("rng_cuda", state)) {
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
                        const std::string& what, const std::vector<std::string>& keep) {
  std::map<std::string, torch::Tensor> targets;
  auto kept = [&](const std::string& name) {
    for (const auto& module : keep)
      if (!module.empty() && name.rfind(module + ".", 0) == 0) return true;
    return false;
  };
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

void export_weights_safetensors(const std::string& path, Network& model, const Config& config) {
  write_safetensors(path, named_weights(model),
                    {{"format", "pt"}, {"flowlab_model", config.model.type},
                     {"flowlab_config", config_to_yaml(config)}});
}

void export_weights(const std::string& path, Network& model) {
  write_torch_file(path, state_dict_value(named_weights(model)));
}

}  // namespace flowlab
