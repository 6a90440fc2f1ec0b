// PyTorch's torch.save file (since PyTorch 1.6): a zip holding ARCHIVE/data.pkl, the pickle (see
// pickle.h), ARCHIVE/data/KEY, the raw little-endian bytes of each storage, ARCHIVE/byteorder and
// ARCHIVE/version. Files written here load in Python with torch.load(path, weights_only=True);
// files from Python load here without running any of their code.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "flowlab/io/pickle.h"

namespace flowlab {

// Reads a torch.save file; tensors come back on the CPU. Throws Error naming the file for
// anything else: a file that is not a zip, an archive of TorchScript or of PyTorch's format before
// 1.6, a missing storage, a checksum that fails, a malformed pickle.
PickleValue read_torch_file(const std::string& path);
PickleValue read_torch_bytes(const std::vector<uint8_t>& bytes, const std::string& what);

// Writes `value` atomically; every tensor is saved as its own contiguous CPU storage, 64-byte
// aligned in the file.
void write_torch_file(const std::string& path, const PickleValue& value);

// {name: tensor} as a dict, in name order.
PickleValue state_dict_value(const std::map<std::string, torch::Tensor>& tensors);
// A dict of string keys and tensor values, as a map; Error naming `what` and the key otherwise.
std::map<std::string, torch::Tensor> state_dict_of(const PickleValue& dict, const std::string& what);

// Bytes kept as a uint8 tensor (what Python sees of, for instance, a LibTorch optimizer archive),
// and back.
torch::Tensor bytes_tensor(const std::string& bytes);
std::string tensor_bytes(const torch::Tensor& tensor);

}  // namespace flowlab
