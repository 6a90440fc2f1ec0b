// SHA-256 (FIPS 180-4), to name a file by its contents: the autoencoder a latent dataset and a
// latent model belong to.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace flowlab {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  // Lower-case hex of the 32-byte digest; ends the hash.
  std::string hex_digest();

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0;  // bytes hashed
};

std::string sha256_hex(const std::string& bytes);
// Streams the file; throws Error when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace flowlab
