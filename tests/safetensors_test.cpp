// safetensors against an independent reader and writer (scripts/checks/safetensors_check.py, numpy and
// json only): every dtype bit for bit both ways, and each kind of broken file one clear error.
#include <gtest/gtest.h>

#include <cstring>

#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/safetensors.h"
#include "test_helpers.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

// The tensors scripts/checks/safetensors_check.py writes and expects.
std::map<std::string, torch::Tensor> every_dtype() {
  auto floats = torch::arange(6, torch::kFloat64).reshape({2, 3}) * 0.75 - 1.5;
  return {{"f64", floats},
          {"f32", floats.to(torch::kFloat32)},
          {"f16", floats.to(torch::kFloat16)},
          {"bf16", floats.to(torch::kBFloat16)},  // exact: every value has 8 significant bits or fewer
          {"i64", torch::tensor({int64_t{-3}, int64_t{0}, int64_t{1} << 40})},
          {"i32", torch::tensor({-7, 5}, torch::kInt32)},
          {"i16", torch::tensor({-300, 300}, torch::kInt16)},
          {"i8", torch::tensor({-128, 127}, torch::kInt8)},
          {"u8", torch::tensor({0, 128, 255}, torch::kUInt8)},
          {"bool", torch::tensor({true, false, true})}};
}

std::string script() { return std::string(FLOWLAB_FIXTURES_DIR) + "/../../scripts/checks/safetensors_check.py"; }

// A valid two-tensor file as bytes, and its header, for breaking.
std::string two_tensor_file(const std::string& header_json, size_t data_bytes) {
  std::string bytes(8, '\0');
  uint64_t n = header_json.size();
  std::memcpy(bytes.data(), &n, 8);
  return bytes + header_json + std::string(data_bytes, '\x01');
}

}  // namespace

TEST(Safetensors, ReadsAnIndependentWritersFileBitForBit) {
  auto file = read_safetensors(std::string(FLOWLAB_FIXTURES_DIR) + "/every_dtype.safetensors");
  auto expected = every_dtype();
  ASSERT_EQ(file.tensors.size(), expected.size());
  for (const auto& [name, tensor] : expected) {
    ASSERT_TRUE(file.tensors.count(name)) << name;
    EXPECT_EQ(file.tensors[name].scalar_type(), tensor.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(file.tensors[name], tensor)) << name;
  }
  EXPECT_EQ(file.metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"source", "flowlab-test"}}));
}

TEST(Safetensors, WrittenFilesReadBackHereAndInTheIndependentReader) {
  TempDir dir;
  auto path = dir / "ours.safetensors";
  write_safetensors(path, every_dtype(), {{"format", "pt"}, {"source", "flowlab-test"}});
  auto back = read_safetensors(path);
  for (const auto& [name, tensor] : every_dtype()) EXPECT_TRUE(torch::equal(back.tensors[name], tensor)) << name;
  if (run_command("/usr/bin/python3 -c 'import numpy'").exit_code != 0)
    GTEST_SKIP() << "the independent reader needs /usr/bin/python3 with numpy (scripts/setup.sh installs it)";
  auto r = run_command("/usr/bin/python3 " + script() + " read " + path);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ok"), std::string::npos) << r.output;
}

TEST(Safetensors, BrokenFilesAreOneClearError) {
  auto good = read_file_text(std::string(FLOWLAB_FIXTURES_DIR) + "/every_dtype.safetensors");
  auto error = [](const std::string& bytes) {
    return error_of([&] { parse_safetensors(bytes, "w.safetensors"); });
  };
  EXPECT_NE(error(good.substr(0, good.size() - 3)).find("outside the"), std::string::npos);  // truncated
  EXPECT_NE(error(good.substr(0, 5)).find("shorter than its 8-byte header length"), std::string::npos);
  std::string long_header = good;
  long_header[4] = '\x7f';  // header length past the end of the file
  EXPECT_NE(error(long_header).find("past the end"), std::string::npos);
  auto a = R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)";
  EXPECT_NE(error(two_tensor_file(std::string(a) + R"("b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})", 6))
                .find("overlaps"), std::string::npos);
  EXPECT_NE(error(two_tensor_file(std::string(a) + R"("b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})", 6))
                .find("outside the 6 bytes"), std::string::npos);  // offsets past the end
  EXPECT_NE(error(two_tensor_file(std::string(a) + R"("b":{"dtype":"F32","shape":[4],"data_offsets":[4,8]}})", 8))
                .find("for a shape of 16 bytes"), std::string::npos);
  EXPECT_NE(error(two_tensor_file(std::string(a) + R"("b":{"dtype":"C64","shape":[1],"data_offsets":[4,12]}})", 12))
                .find("dtype C64"), std::string::npos);
  EXPECT_NE(error(two_tensor_file("[1,2]", 0)).find("not a JSON object"), std::string::npos);
  EXPECT_NE(error(two_tensor_file("{not json", 0)).find("not valid JSON"), std::string::npos);
  EXPECT_NE(error(two_tensor_file(std::string(a) + R"("b":{"dtype":"U8","shape":[-4],"data_offsets":[4,8]}})", 8))
                .find("non-negative"), std::string::npos);
}
