// Small dataset files in the real formats (CIFAR-10 binary records, MNIST IDX), for tests.
#pragma once
#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "test_helpers.h"

namespace flowlab::testing {

// A CIFAR record: label, then R, G, B planes where pixel (c, y, x) = (label * 7 + c * 50 + y + x) % 256.
inline std::vector<uint8_t> cifar_records(const std::vector<uint8_t>& labels) {
  std::vector<uint8_t> bytes;
  for (uint8_t label : labels) {
    bytes.push_back(label);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) bytes.push_back(static_cast<uint8_t>((label * 7 + c * 50 + y + x) % 256));
  }
  return bytes;
}

inline void write_cifar_dir(const std::string& dir, int per_file) {
  for (int f = 1; f <= 5; ++f) {
    std::vector<uint8_t> labels;
    for (int i = 0; i < per_file; ++i) labels.push_back(static_cast<uint8_t>((f + i) % 10));
    write_bytes(dir + "/data_batch_" + std::to_string(f) + ".bin", cifar_records(labels));
  }
  write_bytes(dir + "/test_batch.bin", cifar_records({3, 1, 4}));
  write_text(dir + "/batches.meta.txt",
                               "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
}

inline std::vector<uint8_t> be32(uint32_t v) {
  return {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
}

inline std::vector<uint8_t> idx_images(int n, int rows, int cols, uint32_t magic = 2051) {
  std::vector<uint8_t> b;
  for (auto v : {magic, uint32_t(n), uint32_t(rows), uint32_t(cols)}) {
    auto w = be32(v);
    b.insert(b.end(), w.begin(), w.end());
  }
  for (int i = 0; i < n * rows * cols; ++i) b.push_back(static_cast<uint8_t>(i % 251));
  return b;
}

inline std::vector<uint8_t> idx_labels(const std::vector<uint8_t>& labels) {
  std::vector<uint8_t> b;
  for (auto v : {uint32_t(2049), uint32_t(labels.size())}) {
    auto w = be32(v);
    b.insert(b.end(), w.begin(), w.end());
  }
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

inline void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}


}  // namespace flowlab::testing
