// MNIST in IDX format, plain or gzipped (train-images-idx3-ubyte[.gz], t10k-...).
// Images: big-endian magic 2051, count, rows, cols, then bytes. Labels: magic 2049, count, bytes.
#pragma once
#include <string>

#include "flowlab/data/dataset.h"

namespace flowlab {

Dataset load_mnist(const std::string& dir, const std::string& split);

// Reads one IDX file (plain or .gz) into a uint8 tensor shaped by its header dimensions.
torch::Tensor read_idx(const std::string& path, int expected_magic);

}  // namespace flowlab
