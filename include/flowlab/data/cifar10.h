// CIFAR-10, binary version: data_batch_1..5.bin (train), test_batch.bin (test), batches.meta.txt.
// A record is 3073 bytes: label (0-9), then 1024 R, 1024 G, 1024 B bytes, row-major 32x32.
#pragma once
#include <string>

#include "flowlab/data/dataset.h"

namespace flowlab {

constexpr int64_t kCifarRecordBytes = 3073;

Dataset load_cifar10(const std::string& dir, const std::string& split);

}  // namespace flowlab
