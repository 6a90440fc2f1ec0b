#include "flowlab/io/zip.h"

#include <zlib.h>

#include "flowlab/error.h"

namespace flowlab {
namespace {

std::vector<uint8_t> inflate_raw(const uint8_t* data, uint64_t size, uint64_t out_size,
                                 const std::string& where) {
  // Deflate cannot expand more than about 1032:1; a larger claimed size is a corrupt directory.
  if (out_size > size * 1032 + 1024 || out_size > UINT32_MAX || size > UINT32_MAX)
    throw Error(where + ": implausible compressed member sizes");
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

}  // namespace

uint64_t little_endian(const std::vector<uint8_t>& b, uint64_t at, int bytes, const std::string& path) {
  if (at > b.size() || static_cast<uint64_t>(bytes) > b.size() - at)
    throw Error(path + ": truncated (zip structure runs past the end of the file)");
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | b[at + i];
  return v;
}

std::vector<ZipMember> zip_members(const std::vector<uint8_t>& b, const std::string& path) {
  auto le = [&](uint64_t at, int bytes) { return little_endian(b, at, bytes, path); };
  // The end-of-central-directory record is in the last 22 + 65535 bytes.
  int64_t eocd = -1;
  for (int64_t i = static_cast<int64_t>(b.size()) - 22; i >= 0 && i + 65557 >= (int64_t)b.size(); --i)
    if (le(i, 4) == 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd < 0) throw Error(path + ": not a zip archive (no zip directory; truncated?)");
  uint64_t entries = le(eocd + 10, 2), at = le(eocd + 16, 4);
  if ((entries == 0xffff || at == 0xffffffffu) && eocd >= 20 && le(eocd - 20, 4) == 0x07064b50) {
    uint64_t end64 = le(eocd - 20 + 8, 8);
    if (le(end64, 4) != 0x06064b50) throw Error(path + ": corrupt zip64 end record");
    entries = le(end64 + 32, 8);
    at = le(end64 + 48, 8);
  }
  // Every directory entry takes at least 46 bytes: a larger count is a corrupt record.
  if (entries > b.size() / 46) throw Error(path + ": corrupt zip directory (entry count)");
  std::vector<ZipMember> members;
  for (uint64_t e = 0; e < entries; ++e) {
    if (le(at, 4) != 0x02014b50) throw Error(path + ": corrupt zip directory");
    ZipMember m;
    m.method = le(at + 10, 2);
    m.crc32 = static_cast<uint32_t>(le(at + 16, 4));
    m.packed_size = le(at + 20, 4);
    m.size = le(at + 24, 4);
    uint64_t name_len = le(at + 28, 2), extra_len = le(at + 30, 2), comment_len = le(at + 32, 2),
             local = le(at + 42, 4);
    if (at + 46 + name_len > b.size()) throw Error(path + ": corrupt zip directory");
    m.name.assign(b.begin() + at + 46, b.begin() + at + 46 + name_len);
    // zip64: the 0xFFFFFFFF fields follow in order in the extra field with id 1.
    for (uint64_t x = at + 46 + name_len; x + 4 <= at + 46 + name_len + extra_len;) {
      uint64_t id = le(x, 2), len = le(x + 2, 2), p = x + 4;
      if (id == 1) {
        if (m.size == 0xffffffffu) m.size = le(p, 8), p += 8;
        if (m.packed_size == 0xffffffffu) m.packed_size = le(p, 8), p += 8;
        if (local == 0xffffffffu) local = le(p, 8);
      }
      x += 4 + len;
    }
    at += 46 + name_len + extra_len + comment_len;
    if (le(local, 4) != 0x04034b50) throw Error(path + ": corrupt zip member " + m.name);
    m.data_offset = local + 30 + le(local + 26, 2) + le(local + 28, 2);
    if (m.data_offset > b.size() || m.packed_size > b.size() - m.data_offset)
      throw Error(path + ": truncated (member " + m.name + " runs past the end)");
    members.push_back(std::move(m));
  }
  return members;
}

std::vector<uint8_t> zip_member_data(const std::vector<uint8_t>& b, const ZipMember& m,
                                     const std::string& path) {
  auto start = b.begin() + static_cast<int64_t>(m.data_offset);
  if (m.method == 0) return {start, start + static_cast<int64_t>(m.packed_size)};
  if (m.method == 8) return inflate_raw(b.data() + m.data_offset, m.packed_size, m.size, path + ":" + m.name);
  throw Error(path + ": zip compression method " + std::to_string(m.method) + " unsupported");
}

void verify_zip_checksums(const std::vector<uint8_t>& b, const std::string& path) {
  for (const auto& m : zip_members(b, path)) {
    uLong crc;
    if (m.method == 0) {
      crc = crc32_z(0L, b.data() + m.data_offset, m.packed_size);
    } else {
      auto data = zip_member_data(b, m, path);
      crc = crc32_z(0L, data.data(), data.size());
    }
    if (crc != m.crc32) throw Error(path + ": member " + m.name + " fails its checksum (corrupt file)");
  }
}

namespace {

void put(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back((v >> (8 * i)) & 0xff);
}

constexpr uint64_t kMax32 = 0xffffffffu;

}  // namespace

ZipWriter::ZipWriter(AtomicFile& out, uint64_t alignment) : out_(out), alignment_(alignment) {}

void ZipWriter::add(const std::string& name, const void* data, uint64_t size) {
  const uint64_t offset = out_.size();
  const bool zip64 = size >= kMax32;
  const uint32_t crc = static_cast<uint32_t>(crc32_z(0L, static_cast<const Bytef*>(data), size));
  std::vector<uint8_t> header;
  put(header, 0x04034b50, 4);
  put(header, zip64 ? 45 : 20, 2), put(header, 0, 2), put(header, 0, 2);  // version, flags, stored
  put(header, 0, 2), put(header, 0x21, 2);                                 // time, date (1980-01-01)
  put(header, crc, 4), put(header, zip64 ? kMax32 : size, 4), put(header, zip64 ? kMax32 : size, 4);
  uint64_t extra = (zip64 ? 20 : 0) + 4;
  uint64_t unpadded = offset + 30 + name.size() + extra;
  uint64_t padding = (alignment_ - unpadded % alignment_) % alignment_;
  put(header, name.size(), 2), put(header, extra + padding, 2);
  header.insert(header.end(), name.begin(), name.end());
  if (zip64) put(header, 1, 2), put(header, 16, 2), put(header, size, 8), put(header, size, 8);
  put(header, 0x4246, 2), put(header, padding, 2);
  header.resize(header.size() + padding, 'Z');
  out_.write(header.data(), header.size());
  out_.write(data, size);
  entries_.push_back({name, crc, size, offset});
}

void ZipWriter::finish() {
  std::vector<uint8_t> directory;
  for (const auto& e : entries_) {
    const bool big_size = e.size >= kMax32, big_offset = e.offset >= kMax32;
    std::vector<uint8_t> extra;
    if (big_size) put(extra, e.size, 8), put(extra, e.size, 8);
    if (big_offset) put(extra, e.offset, 8);
    if (!extra.empty()) {
      std::vector<uint8_t> field;
      put(field, 1, 2), put(field, extra.size(), 2);
      extra.insert(extra.begin(), field.begin(), field.end());
    }
    const uint64_t version = extra.empty() ? 20 : 45;
    put(directory, 0x02014b50, 4);
    put(directory, version, 2), put(directory, version, 2), put(directory, 0, 2), put(directory, 0, 2);
    put(directory, 0, 2), put(directory, 0x21, 2);
    put(directory, e.crc32, 4), put(directory, big_size ? kMax32 : e.size, 4);
    put(directory, big_size ? kMax32 : e.size, 4);
    put(directory, e.name.size(), 2), put(directory, extra.size(), 2), put(directory, 0, 2);
    put(directory, 0, 2), put(directory, 0, 2), put(directory, 0, 4);
    put(directory, big_offset ? kMax32 : e.offset, 4);
    directory.insert(directory.end(), e.name.begin(), e.name.end());
    directory.insert(directory.end(), extra.begin(), extra.end());
  }
  const uint64_t directory_at = out_.size(), count = entries_.size();
  std::vector<uint8_t> end;
  const bool zip64 = count >= 0xffff || directory_at >= kMax32 || directory.size() >= kMax32;
  if (zip64) {
    const uint64_t end64_at = directory_at + directory.size();
    put(end, 0x06064b50, 4), put(end, 44, 8), put(end, 45, 2), put(end, 45, 2);
    put(end, 0, 4), put(end, 0, 4), put(end, count, 8), put(end, count, 8);
    put(end, directory.size(), 8), put(end, directory_at, 8);
    put(end, 0x07064b50, 4), put(end, 0, 4), put(end, end64_at, 8), put(end, 1, 4);
  }
  put(end, 0x06054b50, 4), put(end, 0, 2), put(end, 0, 2);
  put(end, zip64 ? 0xffff : count, 2), put(end, zip64 ? 0xffff : count, 2);
  put(end, zip64 ? kMax32 : directory.size(), 4), put(end, zip64 ? kMax32 : directory_at, 4);
  put(end, 0, 2);
  out_.write(directory.data(), directory.size());
  out_.write(end.data(), end.size());
}

}  // namespace flowlab
