// Zip archives, the container of NumPy .npz files, of PyTorch's torch.save files and of LibTorch
// checkpoints (PKWARE APPNOTE.TXT: local header 0x04034b50, central directory 0x02014b50, end
// record 0x06054b50, zip64 end record 0x06064b50 and its locator 0x07064b50, zip64 extra field id
// 0x0001). Reading bounds-checks every offset; anything malformed throws Error naming the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "flowlab/io/files.h"

namespace flowlab {

struct ZipMember {
  std::string name;
  uint64_t method = 0;  // 0 stored, 8 deflated
  uint64_t packed_size = 0, size = 0;
  uint32_t crc32 = 0;
  uint64_t data_offset = 0;  // where the packed bytes start in the archive
};

// The members listed in the central directory of `archive` (the whole file's bytes).
std::vector<ZipMember> zip_members(const std::vector<uint8_t>& archive, const std::string& path);

// A member's bytes, inflated when deflated.
std::vector<uint8_t> zip_member_data(const std::vector<uint8_t>& archive, const ZipMember& member,
                                     const std::string& path);

// The little-endian unsigned integer of `bytes` (1 to 8) bytes at `at`; throws Error naming
// `path` when that runs past the end.
uint64_t little_endian(const std::vector<uint8_t>& data, uint64_t at, int bytes, const std::string& path);

// Throws Error unless every member's data matches the CRC-32 its directory entry records.
void verify_zip_checksums(const std::vector<uint8_t>& archive, const std::string& path);

// Writes stored (uncompressed) members into `out`, each member's data starting at a multiple of
// `alignment` bytes (padding in the local header's extra field, id 0x4246, as PyTorch's writer
// does so that tensors can be memory-mapped); zip64 records where a size or offset passes 4 GiB.
class ZipWriter {
 public:
  explicit ZipWriter(AtomicFile& out, uint64_t alignment = 1);
  void add(const std::string& name, const void* data, uint64_t size);
  // The central directory and the end records; the archive is complete after it.
  void finish();

 private:
  struct Entry {
    std::string name;
    uint32_t crc32;
    uint64_t size, offset;
  };
  AtomicFile& out_;
  uint64_t alignment_;
  std::vector<Entry> entries_;
};

}  // namespace flowlab
