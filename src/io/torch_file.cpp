#include "flowlab/io/torch_file.h"

#include <cstring>

#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/zip.h"
#include "flowlab/strings.h"

namespace flowlab {

PickleValue read_torch_bytes(const std::vector<uint8_t>& bytes, const std::string& what) {
  if (bytes.size() >= 2 && bytes[0] == 0x80 && bytes[1] <= 5)
    throw Error(what + " is in PyTorch's format from before version 1.6; load it in Python and save it "
                "again with torch.save");
  if (bytes.size() < 4 || std::memcmp(bytes.data(), "PK\x03\x04", 4) != 0)
    throw Error(what + " is not a torch.save file (not a zip archive)");
  auto members = zip_members(bytes, what);
  verify_zip_checksums(bytes, what);
  // Every record sits in one folder, named by the writer (torch.save: the file's stem).
  std::string prefix;
  for (const auto& m : members)
    if (ends_with(m.name, "/data.pkl") && m.name.find('/') == m.name.size() - 9)
      prefix = m.name.substr(0, m.name.size() - 8);
  if (prefix.empty()) throw Error(what + " is not a torch.save file (it has no data.pkl)");
  std::map<std::string, const ZipMember*> records;
  for (const auto& m : members) {
    if (m.name.rfind(prefix, 0) != 0) continue;
    auto name = m.name.substr(prefix.size());
    if (name == "constants.pkl" || name.rfind("code/", 0) == 0)
      throw Error(what + " is a TorchScript or LibTorch archive (torch.jit.save), not a torch.save file");
    records[name] = &m;
  }

  std::map<std::string, PickleValue> storages;
  auto load_storage = [&](const PickleValue& id) {
    const auto& fields = id.items();
    if (fields.size() != 5 || !fields[0].is(PickleValue::Kind::String) || fields[0].as_string() != "storage")
      throw Error("a persistent id that is not a storage");
    auto dtype = storage_dtype(fields[1].as_string(), "storage");
    const auto& key = fields[2].as_string();
    fields[3].as_string();  // the location it was saved from; every tensor is read onto the CPU
    int64_t numel = fields[4].as_int();
    if (auto it = storages.find(key); it != storages.end()) return it->second;
    auto record = records.find("data/" + key);
    if (record == records.end()) throw Error("storage " + key + " is missing from the archive");
    auto data = zip_member_data(bytes, *record->second, what);
    const uint64_t element = c10::elementSize(dtype);
    if (numel < 0 || data.size() % element != 0 || data.size() / element != static_cast<uint64_t>(numel))
      throw Error("storage " + key + " holds " + std::to_string(data.size()) + " bytes, not " + std::to_string(numel) +
                  " elements of " + c10::toString(dtype));
    auto elements = torch::empty({numel}, torch::TensorOptions().dtype(dtype));
    if (!data.empty()) std::memcpy(elements.data_ptr(), data.data(), data.size());
    return storages[key] = PickleValue::storage(elements);
  };
  auto pickle_data = zip_member_data(bytes, *records.at("data.pkl"), what);
  return unpickle(pickle_data.data(), pickle_data.size(), load_storage, what);
}

PickleValue read_torch_file(const std::string& path) { return read_torch_bytes(read_file_bytes(path), path); }

void write_torch_file(const std::string& path, const PickleValue& value) {
  // Each tensor is its own storage: its elements, row-major, on the CPU.
  std::vector<torch::Tensor> storages;
  auto storage_id = [&](const torch::Tensor& t) {
    storages.push_back(t.detach().cpu().contiguous());
    return storage_persistent_id(t.scalar_type(), std::to_string(storages.size() - 1), t.numel());
  };
  auto data = pickle(value, storage_id);
  AtomicFile file(path);
  ZipWriter zip(file, 64);
  zip.add("archive/data.pkl", data.data(), data.size());
  zip.add("archive/byteorder", "little", 6);
  for (size_t i = 0; i < storages.size(); ++i)
    zip.add("archive/data/" + std::to_string(i), storages[i].data_ptr(), storages[i].nbytes());
  zip.add("archive/version", "3\n", 2);
  zip.finish();
  file.commit();
}

PickleValue state_dict_value(const std::map<std::string, torch::Tensor>& tensors) {
  std::vector<PickleValue::Entry> entries;
  for (const auto& [name, tensor] : tensors) entries.emplace_back(PickleValue::string(name), PickleValue::tensor(tensor));
  return PickleValue::dict(std::move(entries));
}

std::map<std::string, torch::Tensor> state_dict_of(const PickleValue& dict, const std::string& what) {
  if (!dict.is(PickleValue::Kind::Dict)) throw Error(what + " is " + dict.describe() + ", not a dict of tensors");
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& [key, value] : dict.entries()) {
    if (!key.is(PickleValue::Kind::String)) throw Error(what + " has a key that is " + key.describe());
    if (!value.is(PickleValue::Kind::Tensor))
      throw Error(what + ": " + key.as_string() + " is " + value.describe() + ", not a tensor");
    tensors[key.as_string()] = value.as_tensor();
  }
  return tensors;
}

torch::Tensor bytes_tensor(const std::string& bytes) {
  auto t = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  if (!bytes.empty()) std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  return t;
}

std::string tensor_bytes(const torch::Tensor& tensor) {
  auto t = tensor.to(torch::kCPU).contiguous();
  if (t.scalar_type() != torch::kUInt8 || t.dim() != 1) throw Error("expected a 1-D uint8 tensor of bytes");
  return std::string(static_cast<const char*>(t.data_ptr()), t.numel());
}

}  // namespace flowlab
