// One libFuzzer binary per target: CMake compiles this file with FLOWLAB_FUZZ_TARGET set to the
// target's name (fuzz_config, fuzz_cifar, ...).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto run = flowlab::fuzz::find_target(FLOWLAB_FUZZ_TARGET);
  run(data, size);
  return 0;
}
