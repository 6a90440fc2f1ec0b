#include "flowlab/io/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "flowlab/error.h"
#include "flowlab/io/files.h"

namespace flowlab {
namespace {

const std::vector<std::pair<std::string, torch::Dtype>>& dtype_names() {
  static const std::vector<std::pair<std::string, torch::Dtype>> names = {
      {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16},
      {"BF16", torch::kBFloat16}, {"I64", torch::kInt64}, {"I32", torch::kInt32},
      {"I16", torch::kInt16},   {"I8", torch::kInt8},     {"U8", torch::kUInt8},
      {"BOOL", torch::kBool}};
  return names;
}

torch::Dtype dtype_of(const std::string& name, const std::string& where) {
  for (const auto& [n, d] : dtype_names())
    if (n == name) return d;
  throw Error(where + ": dtype " + name + " is not one of F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL");
}

std::string name_of(torch::Dtype dtype) {
  for (const auto& [n, d] : dtype_names())
    if (d == dtype) return n;
  throw Error(std::string("safetensors: cannot store dtype ") + c10::toString(dtype));
}

uint64_t read_u64_le(const std::string& bytes) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  return v;
}

struct Entry {
  std::string name;
  torch::Dtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& name, const nlohmann::json& j, uint64_t data_size,
                  const std::string& what) {
  auto where = what + ": tensor " + name;
  if (!j.is_object() || !j.contains("dtype") || !j.contains("shape") || !j.contains("data_offsets") ||
      !j["dtype"].is_string() || !j["shape"].is_array() || !j["data_offsets"].is_array() ||
      j["data_offsets"].size() != 2)
    throw Error(where + " needs dtype, shape and data_offsets [begin, end]");
  Entry e{name, dtype_of(j["dtype"].get<std::string>(), where), {}, 0, 0};
  uint64_t bytes = torch::elementSize(e.dtype);
  for (const auto& d : j["shape"]) {
    if (!d.is_number_unsigned()) throw Error(where + " has a shape entry that is not a non-negative integer");
    auto n = d.get<uint64_t>();
    if (n != 0 && bytes > std::numeric_limits<uint64_t>::max() / n) throw Error(where + " is too large");
    bytes *= n;
    e.shape.push_back(static_cast<int64_t>(n));
  }
  for (const auto& o : j["data_offsets"])
    if (!o.is_number_unsigned()) throw Error(where + " has a data offset that is not a non-negative integer");
  e.begin = j["data_offsets"][0].get<uint64_t>();
  e.end = j["data_offsets"][1].get<uint64_t>();
  if (e.begin > e.end || e.end > data_size)
    throw Error(where + " has bytes [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                ") outside the " + std::to_string(data_size) + " bytes of data (truncated file?)");
  if (e.end - e.begin != bytes)
    throw Error(where + " has " + std::to_string(e.end - e.begin) + " bytes for a shape of " +
                std::to_string(bytes) + " bytes");
  return e;
}

}  // namespace

Safetensors parse_safetensors(const std::string& bytes, const std::string& what) {
  if (bytes.size() < 8) throw Error(what + ": not a safetensors file (shorter than its 8-byte header length)");
  uint64_t header_size = read_u64_le(bytes);
  if (header_size > bytes.size() - 8)
    throw Error(what + ": header length " + std::to_string(header_size) + " is past the end of the " +
                std::to_string(bytes.size()) + "-byte file (truncated, or not safetensors)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<int64_t>(header_size));
  } catch (const nlohmann::json::exception&) {
    throw Error(what + ": the header is not valid JSON (not a safetensors file?)");
  }
  if (!header.is_object()) throw Error(what + ": the header is not a JSON object");
  const uint64_t data_start = 8 + header_size, data_size = bytes.size() - data_start;
  Safetensors out;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) throw Error(what + ": __metadata__ is not an object");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) throw Error(what + ": __metadata__ value of " + k + " is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(name, value, data_size, what));
  }
  // The ranges must tile the data: no overlap, no gap.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  for (const auto& e : entries) {
    if (e.begin < covered) throw Error(what + ": tensor " + e.name + " overlaps another tensor's bytes");
    if (e.begin > covered) throw Error(what + ": bytes [" + std::to_string(covered) + ", " +
                                       std::to_string(e.begin) + ") belong to no tensor");
    covered = e.end;
  }
  if (covered != data_size)
    throw Error(what + ": " + std::to_string(data_size - covered) + " bytes after the last tensor");
  for (const auto& e : entries) {
    auto t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype));
    if (e.end > e.begin) std::memcpy(t.data_ptr(), bytes.data() + data_start + e.begin, e.end - e.begin);
    out.tensors[e.name] = t;
  }
  return out;
}

Safetensors read_safetensors(const std::string& path) {
  return parse_safetensors(read_file_text(path), path);
}

void write_safetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    auto t = tensor.detach().to(torch::kCPU).contiguous();
    uint64_t n = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", name_of(t.scalar_type())}, {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + n}}};
    offset += n;
    data.push_back(t);
  }
  auto text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>((text.size() >> (8 * i)) & 0xFF);
  bytes += text;
  for (const auto& t : data)
    bytes.append(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()) * t.element_size());
  write_file_atomic(path, bytes);
}

}  // namespace flowlab
