// TFRecord framing, as TensorFlow's record writer lays it out: each record is
//   uint64 length (little-endian), uint32 masked CRC-32C of those 8 bytes,
//   the data, uint32 masked CRC-32C of the data.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace flowlab {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI and TFRecord use it;
// crc32c("123456789") = 0xE3069283.
uint32_t crc32c(const void* data, size_t size);
// TFRecord's mask: rotate right by 15 bits, add 0xA282EAD8.
uint32_t masked_crc32c(const void* data, size_t size);

// Appends records to a file, flushing each, so a run that dies keeps every record written.
class TFRecordWriter {
 public:
  explicit TFRecordWriter(const std::string& path);  // creates or appends; Error if it cannot
  ~TFRecordWriter();
  TFRecordWriter(const TFRecordWriter&) = delete;
  TFRecordWriter& operator=(const TFRecordWriter&) = delete;

  void write(const std::string& data);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace flowlab
