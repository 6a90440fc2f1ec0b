#include "flowlab/io/npz.h"

#include <zlib.h>

#include <cstring>

#include "flowlab/error.h"
#include "flowlab/io/files.h"

namespace flowlab {
namespace {

// Zip format: PKWARE APPNOTE.TXT (local header 0x04034b50, central directory 0x02014b50,
// end record 0x06054b50, zip64 extra field id 0x0001).
uint64_t le(const std::vector<uint8_t>& b, size_t at, int bytes, const std::string& path) {
  if (at + bytes > b.size()) throw Error(path + ": truncated .npz (zip structure runs past the end)");
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | b[at + i];
  return v;
}

std::vector<uint8_t> inflate_raw(const uint8_t* data, size_t size, size_t out_size,
                                 const std::string& where) {
  std::vector<uint8_t> out(out_size);
  z_stream s{};
  if (inflateInit2(&s, -MAX_WBITS) != Z_OK) throw Error(where + ": zlib init failed");
  s.next_in = const_cast<Bytef*>(data);
  s.avail_in = static_cast<uInt>(size);
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out_size);
  int rc = inflate(&s, Z_FINISH);
  inflateEnd(&s);
  if (rc != Z_STREAM_END || s.total_out != out_size) throw Error(where + ": corrupt deflate data");
  return out;
}

torch::Tensor parse_npy(const std::vector<uint8_t>& b, const std::string& where) {
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0)
    throw Error(where + ": not a .npy array");
  int major = b[6];
  size_t header_len = major == 1 ? le(b, 8, 2, where) : le(b, 8, 4, where);
  size_t header_at = major == 1 ? 10 : 12;
  if (header_at + header_len > b.size()) throw Error(where + ": truncated .npy header");
  std::string header(b.begin() + header_at, b.begin() + header_at + header_len);
  auto value_after = [&](const std::string& key) {
    auto k = header.find("'" + key + "'");
    if (k == std::string::npos) throw Error(where + ": .npy header lacks '" + key + "'");
    auto colon = header.find(':', k);
    auto start = header.find_first_not_of(" ", colon + 1);
    return header.substr(start);
  };
  auto descr = value_after("descr");
  descr = descr.substr(1, descr.find('\'', 1) - 1);
  bool fortran = value_after("fortran_order").rfind("True", 0) == 0;
  auto shape_text = value_after("shape");
  shape_text = shape_text.substr(1, shape_text.find(')') - 1);
  std::vector<int64_t> shape;
  for (size_t i = 0; i < shape_text.size();) {
    auto comma = shape_text.find(',', i);
    auto item = shape_text.substr(i, comma == std::string::npos ? std::string::npos : comma - i);
    if (item.find_first_not_of(" ") != std::string::npos) shape.push_back(std::stoll(item));
    if (comma == std::string::npos) break;
    i = comma + 1;
  }
  torch::Dtype dtype;
  if (descr == "<f8") dtype = torch::kFloat64;
  else if (descr == "<f4") dtype = torch::kFloat32;
  else if (descr == "<i8") dtype = torch::kInt64;
  else if (descr == "<i4") dtype = torch::kInt32;
  else throw Error(where + ": unsupported .npy dtype '" + descr + "' (f4, f8, i4, i8)");
  int64_t count = 1;
  for (auto d : shape) count *= d;
  size_t data_at = header_at + header_len;
  size_t bytes = static_cast<size_t>(count) * torch::elementSize(dtype);
  if (data_at + bytes > b.size()) throw Error(where + ": truncated .npy data");
  std::vector<int64_t> storage_shape(shape);
  if (fortran) std::reverse(storage_shape.begin(), storage_shape.end());
  auto t = torch::empty(storage_shape, dtype);
  std::memcpy(t.data_ptr(), b.data() + data_at, bytes);
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
    default: throw Error("write_npz: unsupported dtype " + std::string(c10::toString(t.scalar_type())));
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

void put(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back((v >> (8 * i)) & 0xff);
}

}  // namespace

std::map<std::string, torch::Tensor> read_npz(const std::string& path) {
  auto b = read_file_bytes(path);
  // The end-of-central-directory record is in the last 22 + 65535 bytes.
  int64_t eocd = -1;
  for (int64_t i = static_cast<int64_t>(b.size()) - 22; i >= 0 && i + 65557 >= (int64_t)b.size(); --i)
    if (le(b, i, 4, path) == 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd < 0) throw Error(path + ": not an .npz file (no zip directory; truncated?)");
  uint64_t entries = le(b, eocd + 10, 2, path), at = le(b, eocd + 16, 4, path);
  std::map<std::string, torch::Tensor> arrays;
  for (uint64_t e = 0; e < entries; ++e) {
    if (le(b, at, 4, path) != 0x02014b50) throw Error(path + ": corrupt zip directory");
    uint64_t method = le(b, at + 10, 2, path), packed = le(b, at + 20, 4, path),
             size = le(b, at + 24, 4, path), name_len = le(b, at + 28, 2, path),
             extra_len = le(b, at + 30, 2, path), comment_len = le(b, at + 32, 2, path),
             local = le(b, at + 42, 4, path);
    std::string name(b.begin() + at + 46, b.begin() + at + 46 + name_len);
    // zip64: the 0xFFFFFFFF fields follow in order in the extra field with id 1.
    for (uint64_t x = at + 46 + name_len; x + 4 <= at + 46 + name_len + extra_len;) {
      uint64_t id = le(b, x, 2, path), len = le(b, x + 2, 2, path), p = x + 4;
      if (id == 1) {
        if (size == 0xffffffffu) size = le(b, p, 8, path), p += 8;
        if (packed == 0xffffffffu) packed = le(b, p, 8, path), p += 8;
        if (local == 0xffffffffu) local = le(b, p, 8, path);
      }
      x += 4 + len;
    }
    at += 46 + name_len + extra_len + comment_len;
    if (le(b, local, 4, path) != 0x04034b50) throw Error(path + ": corrupt zip member " + name);
    uint64_t data = local + 30 + le(b, local + 26, 2, path) + le(b, local + 28, 2, path);
    if (data + packed > b.size()) throw Error(path + ": truncated .npz (member " + name + ")");
    std::vector<uint8_t> member;
    if (method == 0) member.assign(b.begin() + data, b.begin() + data + packed);
    else if (method == 8) member = inflate_raw(b.data() + data, packed, size, path + ":" + name);
    else throw Error(path + ": zip compression method " + std::to_string(method) + " unsupported");
    if (name.size() > 4 && name.substr(name.size() - 4) == ".npy") name.resize(name.size() - 4);
    arrays[name] = parse_npy(member, path + ":" + name);
  }
  return arrays;
}

void write_npz(const std::string& path, const std::map<std::string, torch::Tensor>& arrays) {
  std::vector<uint8_t> out, directory;
  for (const auto& [key, tensor] : arrays) {
    auto npy = make_npy(tensor);
    std::string name = key + ".npy";
    uint32_t crc = crc32(0L, npy.data(), static_cast<uInt>(npy.size()));
    uint64_t offset = out.size();
    put(out, 0x04034b50, 4);
    put(out, 20, 2), put(out, 0, 2), put(out, 0, 2), put(out, 0, 2), put(out, 0x21, 2);  // version, flags, stored, time, date
    put(out, crc, 4), put(out, npy.size(), 4), put(out, npy.size(), 4);
    put(out, name.size(), 2), put(out, 0, 2);
    out.insert(out.end(), name.begin(), name.end());
    out.insert(out.end(), npy.begin(), npy.end());
    put(directory, 0x02014b50, 4);
    put(directory, 20, 2), put(directory, 20, 2), put(directory, 0, 2), put(directory, 0, 2);
    put(directory, 0, 2), put(directory, 0x21, 2);
    put(directory, crc, 4), put(directory, npy.size(), 4), put(directory, npy.size(), 4);
    put(directory, name.size(), 2), put(directory, 0, 2), put(directory, 0, 2);
    put(directory, 0, 2), put(directory, 0, 2), put(directory, 0, 4), put(directory, offset, 4);
    directory.insert(directory.end(), name.begin(), name.end());
  }
  uint64_t directory_at = out.size();
  out.insert(out.end(), directory.begin(), directory.end());
  put(out, 0x06054b50, 4), put(out, 0, 2), put(out, 0, 2);
  put(out, arrays.size(), 2), put(out, arrays.size(), 2);
  put(out, directory.size(), 4), put(out, directory_at, 4), put(out, 0, 2);
  write_file_atomic(path, out.data(), out.size());
}

}  // namespace flowlab
