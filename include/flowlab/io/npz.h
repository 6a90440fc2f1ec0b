// NumPy .npy arrays and .npz files (a zip of .npy arrays), as pytorch-fid and clean-fid store
// reference statistics (keys "mu" and "sigma"). Reads stored and deflated members, zip64 sizes,
// little-endian f4/f8/i4/i8 and u1 arrays in C or Fortran order; writes stored members.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

namespace flowlab {

// Member names without ".npy". Throws Error naming the file on anything malformed.
std::map<std::string, torch::Tensor> read_npz(const std::string& path);

// Writes atomically (temporary file, then rename); tensors are saved as they are (f4/f8/i8/u1).
void write_npz(const std::string& path, const std::map<std::string, torch::Tensor>& arrays);

// One .npy array (numpy.save / numpy.load); the same dtypes, errors and atomic write.
torch::Tensor read_npy(const std::string& path);
void write_npy(const std::string& path, const torch::Tensor& array);

}  // namespace flowlab
