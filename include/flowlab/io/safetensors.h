// safetensors, the format Hugging Face weights come in: an 8-byte little-endian header length N,
// N bytes of JSON {NAME: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
// {KEY: VALUE}}, then the tensors' little-endian bytes, offsets relative to the data's start.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

namespace flowlab {

struct Safetensors {
  std::map<std::string, torch::Tensor> tensors;  // in their stored dtype, CPU
  std::map<std::string, std::string> metadata;
};

// Every entry's dtype (F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL), shape and byte range is checked
// against the file before any tensor is read: the ranges must lie inside the data, match the
// shapes, not overlap, and cover the data. Any problem is an Error naming `what`.
Safetensors parse_safetensors(const std::string& bytes, const std::string& what);
Safetensors read_safetensors(const std::string& path);

// Writes contiguous copies of `tensors` (sorted by name) with `metadata`, atomically.
void write_safetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace flowlab
