#include "flowlab/training/checkpoint.h"

#include <filesystem>
#include <sstream>

#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/zip.h"

namespace flowlab {

void save_checkpoint(const std::string& path, const TrainingSnapshot& s) {
  torch::serialize::OutputArchive archive;
  archive.write("format_version", torch::tensor(kCheckpointFormat));
  archive.write("config", c10::IValue(config_to_yaml(s.config)));
  archive.write("step", torch::tensor(s.step));
  c10::List<std::string> names;
  for (const auto& n : s.class_names) names.push_back(n);
  archive.write("class_names", c10::IValue(names));
  torch::serialize::OutputArchive model_archive, ema_archive, optimizer_archive;
  s.model.save(model_archive);
  s.ema.save(ema_archive);
  s.optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("ema", ema_archive);
  archive.write("optimizer", optimizer_archive);
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

void CheckpointReader::load_weights(Backbone& model, bool ema) {
  torch::serialize::InputArchive sub;
  const char* key = ema ? "ema" : "model";
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

void export_weights(const std::string& path, Backbone& model) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& p : model.named_parameters()) dict.insert(p.key(), p.value().detach().cpu().clone());
  for (const auto& b : model.named_buffers()) dict.insert(b.key(), b.value().detach().cpu().clone());
  auto bytes = torch::pickle_save(c10::IValue(dict));
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace flowlab
