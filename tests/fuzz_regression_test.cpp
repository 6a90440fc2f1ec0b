// Replays every fuzz input kept in the repository (fuzz/corpus: the seeds; fuzz/regressions:
// inputs that once crashed a reader) through its target in the normal build: each must be read or
// rejected with flowlab::Error, never crash or throw anything else.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../fuzz/targets.h"

namespace fs = std::filesystem;

TEST(FuzzRegression, EveryKeptInputIsReadOrCleanlyRejected) {
  for (const auto& target : flowlab::fuzz::targets()) {
    int replayed = 0;
    for (const char* kind : {"corpus", "regressions"}) {
      fs::path dir = fs::path(FLOWLAB_FUZZ_DIR) / kind / target.name;
      if (!fs::is_directory(dir)) continue;
      for (const auto& entry : fs::directory_iterator(dir)) {
        std::ifstream in(entry.path(), std::ios::binary);
        std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        EXPECT_NO_THROW(target.run(bytes.data(), bytes.size())) << entry.path();
        ++replayed;
      }
    }
    EXPECT_GT(replayed, 0) << "no seed inputs for fuzz target " << target.name;
  }
}
