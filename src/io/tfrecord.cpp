#include "flowlab/io/tfrecord.h"

#include <array>
#include <cerrno>
#include <cstring>

#include "flowlab/error.h"

namespace flowlab {
namespace {

std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}

void put_le(uint8_t* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
}

}  // namespace

uint32_t crc32c(const void* data, size_t size) {
  static const auto table = make_crc32c_table();
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  uint32_t c = crc32c(data, size);
  return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

TFRecordWriter::TFRecordWriter(const std::string& path) : path_(path) {
  file_ = std::fopen(path.c_str(), "ab");
  if (!file_) throw Error("cannot open " + path + " for writing: " + std::strerror(errno));
}

TFRecordWriter::~TFRecordWriter() {
  if (file_) std::fclose(file_);
}

void TFRecordWriter::write(const std::string& data) {
  uint8_t header[12], footer[4];
  put_le(header, data.size(), 8);
  put_le(header + 8, masked_crc32c(header, 8), 4);
  put_le(footer, masked_crc32c(data.data(), data.size()), 4);
  bool ok = std::fwrite(header, 1, sizeof(header), file_) == sizeof(header) &&
            std::fwrite(data.data(), 1, data.size(), file_) == data.size() &&
            std::fwrite(footer, 1, sizeof(footer), file_) == sizeof(footer) && std::fflush(file_) == 0;
  if (!ok) throw Error("cannot write to " + path_ + ": " + std::strerror(errno));
}

}  // namespace flowlab
