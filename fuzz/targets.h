// The readers that take files from outside, as fuzz targets: each writes the input where the
// reader expects a file, runs it, and accepts flowlab::Error (a clean rejection). Any other
// exception, crash or sanitizer report is a finding. Used by the libFuzzer binaries
// (fuzz/fuzz_main.cpp, scripts/checks/fuzz.sh) and by tests/fuzz_regression_test.cpp, which replays
// fuzz/corpus/ and fuzz/regressions/ in the normal test suite.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace flowlab::fuzz {

using Target = void (*)(const uint8_t* data, size_t size);

struct NamedTarget {
  std::string name;  // also the corpus and regression folder name
  Target run;
};

// config (YAML text), cifar (test_batch.bin), idx (an MNIST images file, plain or gzip),
// npz, checkpoint, image (PNG/JPG/BMP), safetensors, latents (a latent dataset's latents.json).
const std::vector<NamedTarget>& targets();
Target find_target(const std::string& name);

}  // namespace flowlab::fuzz
