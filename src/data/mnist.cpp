#include "flowlab/data/mnist.h"

#include <zlib.h>

#include <filesystem>

#include "flowlab/error.h"

namespace flowlab {
namespace {

// Reads a whole plain or gzipped file (gzread passes plain files through unchanged).
std::vector<uint8_t> read_maybe_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw Error("mnist: cannot open " + path);
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 20);
  int n;
  while ((n = gzread(f, chunk.data(), static_cast<unsigned>(chunk.size()))) > 0)
    out.insert(out.end(), chunk.begin(), chunk.begin() + n);
  int err = 0;
  const char* msg = gzerror(f, &err);
  std::string err_text = msg ? msg : "";
  gzclose(f);
  if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
    throw Error("mnist: " + path + " is not a readable gzip or IDX file (" + err_text + ")");
  return out;
}

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

std::string find_idx(const std::string& dir, const std::string& stem) {
  namespace fs = std::filesystem;
  for (const auto& name : {stem, stem + ".gz"}) {
    auto p = fs::path(dir) / name;
    if (fs::exists(p)) return p.string();
  }
  throw Error("mnist: neither " + stem + " nor " + stem + ".gz found in " + dir);
}

}  // namespace

torch::Tensor read_idx(const std::string& path, int expected_magic) {
  auto bytes = read_maybe_gz(path);
  if (bytes.size() < 8)
    throw Error("mnist: " + path + " is too short for an IDX header (" +
                std::to_string(bytes.size()) + " bytes)");
  uint32_t magic = big_endian_u32(bytes.data());
  if (magic != static_cast<uint32_t>(expected_magic))
    throw Error("mnist: " + path + " has magic number " + std::to_string(magic) + ", expected " +
                std::to_string(expected_magic));
  int ndim = static_cast<int>(magic & 0xff);
  size_t header = 4 + 4 * static_cast<size_t>(ndim);
  if (bytes.size() < header) throw Error("mnist: " + path + " has a truncated IDX header");
  std::vector<int64_t> shape;
  const size_t available = bytes.size() - header;
  size_t count = 1;
  bool too_many = false;  // the header's sizes multiply past the data (or past 64 bits)
  for (int d = 0; d < ndim; ++d) {
    shape.push_back(big_endian_u32(bytes.data() + 4 + 4 * d));
    auto size = static_cast<size_t>(shape.back());
    too_many = too_many || (size != 0 && count > available / size);
    if (!too_many) count *= size;
  }
  if (too_many || available != count)
    throw Error("mnist: " + path + " holds " + std::to_string(available) +
                " data bytes but its header promises " + (too_many ? "more" : std::to_string(count)) +
                " (truncated?)");
  auto t = torch::empty(shape, torch::kUInt8);
  if (count > 0) std::memcpy(t.data_ptr<uint8_t>(), bytes.data() + header, count);  // empty: no storage
  return t;
}

Dataset load_mnist(const std::string& dir, const std::string& split) {
  if (!std::filesystem::is_directory(dir))
    throw Error("mnist: data directory " + dir + " does not exist");
  std::string prefix = split == "train" ? "train" : "t10k";
  auto images = read_idx(find_idx(dir, prefix + "-images-idx3-ubyte"), 2051);
  auto labels = read_idx(find_idx(dir, prefix + "-labels-idx1-ubyte"), 2049);
  if (images.dim() != 3 || labels.dim() != 1 || images.size(0) != labels.size(0))
    throw Error("mnist: " + dir + ": " + std::to_string(images.size(0)) + " images but " +
                std::to_string(labels.size(0)) + " labels");
  if (labels.numel() > 0 && labels.max().item<int>() > 9)
    throw Error("mnist: " + dir + ": label above 9 in the " + split + " labels file");
  Dataset data;
  data.name = "mnist";
  data.images = images.unsqueeze(1).contiguous();
  data.labels = labels.to(torch::kInt64);
  for (int i = 0; i < 10; ++i) data.class_names.push_back(std::to_string(i));
  return data;
}

}  // namespace flowlab
