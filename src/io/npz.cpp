#include "flowlab/io/npz.h"

#include <cstring>

#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/zip.h"
#include "flowlab/strings.h"

namespace flowlab {
namespace {

torch::Tensor parse_npy(const std::vector<uint8_t>& b, const std::string& where) {
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0)
    throw Error(where + ": not a .npy array");
  int major = b[6];
  size_t header_len = major == 1 ? little_endian(b, 8, 2, where) : little_endian(b, 8, 4, where);
  size_t header_at = major == 1 ? 10 : 12;
  if (header_len > b.size() - header_at) throw Error(where + ": truncated .npy header");
  std::string header(b.begin() + header_at, b.begin() + header_at + header_len);
  auto malformed = [&] { return Error(where + ": malformed .npy header: " + header); };
  auto value_after = [&](const std::string& key) {
    auto k = header.find("'" + key + "'");
    if (k == std::string::npos) throw Error(where + ": .npy header lacks '" + key + "'");
    auto colon = header.find(':', k);
    auto start = colon == std::string::npos ? colon : header.find_first_not_of(" ", colon + 1);
    if (start == std::string::npos) throw malformed();
    return header.substr(start);
  };
  auto descr = value_after("descr");
  if (descr.size() < 2 || descr.find('\'', 1) == std::string::npos) throw malformed();
  descr = descr.substr(1, descr.find('\'', 1) - 1);
  bool fortran = value_after("fortran_order").rfind("True", 0) == 0;
  auto shape_text = value_after("shape");
  if (shape_text[0] != '(' || shape_text.find(')') == std::string::npos) throw malformed();
  shape_text = shape_text.substr(1, shape_text.find(')') - 1);
  std::vector<int64_t> shape;
  for (size_t i = 0; i < shape_text.size();) {
    auto comma = shape_text.find(',', i);
    auto item = shape_text.substr(i, comma == std::string::npos ? std::string::npos : comma - i);
    if (item.find_first_not_of(" ") != std::string::npos) {
      size_t used = 0;
      int64_t d = -1;
      try {
        d = std::stoll(item, &used);
      } catch (const std::exception&) {
      }
      if (d < 0 || item.find_first_not_of(" ", used) != std::string::npos) throw malformed();
      shape.push_back(d);
    }
    if (comma == std::string::npos) break;
    i = comma + 1;
  }
  torch::Dtype dtype;
  if (descr == "<f8") dtype = torch::kFloat64;
  else if (descr == "<f4") dtype = torch::kFloat32;
  else if (descr == "<i8") dtype = torch::kInt64;
  else if (descr == "<i4") dtype = torch::kInt32;
  else if (descr == "|u1") dtype = torch::kUInt8;
  else throw Error(where + ": unsupported .npy dtype '" + descr + "' (f4, f8, i4, i8, u1)");
  // Element count, checked against the bytes present before it can overflow.
  size_t data_at = header_at + header_len, available = b.size() - data_at, bytes = torch::elementSize(dtype);
  for (auto d : shape) {
    if (d != 0 && bytes > available / static_cast<size_t>(d)) throw Error(where + ": truncated .npy data");
    bytes *= static_cast<size_t>(d);
  }
  if (bytes > available) throw Error(where + ": truncated .npy data");
  std::vector<int64_t> storage_shape(shape);
  if (fortran) std::reverse(storage_shape.begin(), storage_shape.end());
  auto t = torch::empty(storage_shape, dtype);
  if (bytes > 0) std::memcpy(t.data_ptr(), b.data() + data_at, bytes);  // empty: no storage
  if (fortran) {
    std::vector<int64_t> reverse_dims;
    for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) reverse_dims.push_back(i);
    t = t.permute(reverse_dims).contiguous();
  }
  return t;
}

std::vector<uint8_t> make_npy(const torch::Tensor& tensor) {
  auto t = tensor.contiguous().cpu();
  std::string descr;
  switch (t.scalar_type()) {
    case torch::kFloat64: descr = "<f8"; break;
    case torch::kFloat32: descr = "<f4"; break;
    case torch::kInt64: descr = "<i8"; break;
    case torch::kUInt8: descr = "|u1"; break;
    default: throw Error("numpy array: unsupported dtype " + std::string(c10::toString(t.scalar_type())));
  }
  std::string shape;
  for (auto d : t.sizes()) shape += std::to_string(d) + ", ";
  if (t.dim() > 1) shape.erase(shape.size() - 2);
  else if (t.dim() == 1) shape.erase(shape.size() - 1);
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";  // pad to 64 bytes, as NumPy does
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.push_back(header.size() & 0xff);
  out.push_back(header.size() >> 8);
  out.insert(out.end(), header.begin(), header.end());
  auto data = static_cast<const uint8_t*>(t.data_ptr());
  out.insert(out.end(), data, data + t.numel() * t.element_size());
  return out;
}

}  // namespace

std::map<std::string, torch::Tensor> read_npz(const std::string& path) {
  auto archive = read_file_bytes(path);
  std::map<std::string, torch::Tensor> arrays;
  for (const auto& member : zip_members(archive, path)) {
    auto name = member.name;
    if (ends_with(name, ".npy")) name.resize(name.size() - 4);
    arrays[name] = parse_npy(zip_member_data(archive, member, path), path + ":" + name);
  }
  return arrays;
}

torch::Tensor read_npy(const std::string& path) { return parse_npy(read_file_bytes(path), path); }

void write_npy(const std::string& path, const torch::Tensor& array) {
  auto npy = make_npy(array);
  write_file_atomic(path, npy.data(), npy.size());
}

void write_npz(const std::string& path, const std::map<std::string, torch::Tensor>& arrays) {
  AtomicFile file(path);
  ZipWriter zip(file);
  for (const auto& [key, tensor] : arrays) {
    auto npy = make_npy(tensor);
    zip.add(key + ".npy", npy.data(), npy.size());
  }
  zip.finish();
  file.commit();
}

}  // namespace flowlab
