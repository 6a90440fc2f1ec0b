// File helpers: whole-file reads with clear errors, atomic writes, output directories.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace flowlab {

// Throws Error naming the path when it is missing or unreadable.
std::vector<uint8_t> read_file_bytes(const std::string& path);
std::string read_file_text(const std::string& path);

// Writes to "<path>.tmp", flushes and fsyncs, then renames over `path`: readers never see a
// partial file, and a crash leaves the old file in place.
void write_file_atomic(const std::string& path, const void* data, size_t size);
void write_file_atomic(const std::string& path, const std::string& text);

// The same, written piece by piece: write() appends to "<path>.tmp", commit() flushes, fsyncs and
// renames it over `path`. Destroyed without commit() (an exception, a stop), it removes the
// temporary file and leaves `path` as it was.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  uint64_t size() const { return written_; }
  void commit();

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  uint64_t written_ = 0;
};

// Throws Error unless `path` is a writable directory or could be created as one: for commands
// that check their output before long work, without creating anything yet.
void check_directory_creatable(const std::string& path);

// Creates the directory (and parents) and checks that it is writable; throws Error otherwise.
void ensure_directory(const std::string& path);

}  // namespace flowlab
