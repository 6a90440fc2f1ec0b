// torch.save files: PyTorch's own file (scripts/fixtures/make_torch_file_fixture.py) read here, flowlab's
// files read back, and malformed or hostile files rejected in one line.
#include <gtest/gtest.h>

#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/torch_file.h"
#include "flowlab/io/zip.h"
#include "test_helpers.h"

using namespace flowlab;
using namespace flowlab::testing;
using namespace std::string_literals;

namespace {

const PickleValue& entry(const PickleValue& dict, const std::string& key) {
  auto v = dict.find(key);
  if (!v) throw std::runtime_error("no key " + key);
  return *v;
}

// A torch.save-shaped archive around a hand-written pickle and storages.
std::vector<uint8_t> archive_of(const std::string& pickle_bytes,
                                const std::vector<std::pair<std::string, std::string>>& records = {}) {
  TempDir dir;
  auto path = dir / "file.pt";
  {
    AtomicFile file(path);
    ZipWriter zip(file, 64);
    zip.add("archive/data.pkl", pickle_bytes.data(), pickle_bytes.size());
    for (const auto& [name, data] : records) zip.add("archive/" + name, data.data(), data.size());
    zip.finish();
    file.commit();
  }
  return read_file_bytes(path);
}

std::string rejection(const std::vector<uint8_t>& bytes) {
  return error_of([&] { read_torch_bytes(bytes, "input.pt"); });
}

}  // namespace

TEST(TorchFile, ReadsWhatPyTorchSaved) {
  auto file = read_torch_file(std::string(FLOWLAB_FIXTURES_DIR) + "/torch_saved.pt");
  auto values = torch::arange(6, torch::kFloat32).reshape({2, 3}) * 0.5 - 1;
  EXPECT_TRUE(torch::equal(entry(file, "f32").as_tensor(), values));
  EXPECT_EQ(entry(file, "f16").as_tensor().scalar_type(), torch::kFloat16);
  EXPECT_TRUE(torch::equal(entry(file, "f16").as_tensor().to(torch::kFloat32), values));
  EXPECT_EQ(entry(file, "bf16").as_tensor().scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(entry(file, "bf16").as_tensor().to(torch::kFloat32), values));
  EXPECT_TRUE(torch::equal(entry(file, "i64").as_tensor(), torch::tensor({int64_t{-3}, int64_t{0}, int64_t{1} << 40})));
  EXPECT_TRUE(torch::equal(entry(file, "bool").as_tensor(), torch::tensor({true, false, true})));
  auto base = torch::arange(12, torch::kFloat32).reshape({3, 4});
  EXPECT_TRUE(torch::equal(entry(file, "base").as_tensor(), base));
  // A transposed view at a storage offset, shared with "base".
  EXPECT_TRUE(torch::equal(entry(file, "view").as_tensor(), base.slice(0, 1).slice(1, 1, 3).t()));
  EXPECT_TRUE(torch::equal(entry(file, "param").as_tensor(), torch::ones({2})));

  const auto& meta = entry(file, "meta");
  EXPECT_EQ(entry(meta, "step").as_int(), 7);
  EXPECT_EQ(entry(meta, "big").as_int(), int64_t{1} << 40);
  EXPECT_EQ(entry(meta, "neg").as_int(), -5);
  EXPECT_DOUBLE_EQ(entry(meta, "lr").as_float(), 1e-4);
  EXPECT_EQ(entry(meta, "name").as_string(), "x");
  EXPECT_TRUE(entry(meta, "flag").as_bool());
  EXPECT_TRUE(entry(meta, "none").is(PickleValue::Kind::None));
  const auto& list = entry(meta, "list").items();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].as_int(), 1);
  EXPECT_DOUBLE_EQ(list[1].as_float(), 2.5);
  EXPECT_EQ(list[2].as_string(), "a");
  EXPECT_TRUE(entry(meta, "tuple").is(PickleValue::Kind::Tuple));

  // A class the reader does not rebuild stays an opaque object; nothing of it runs.
  EXPECT_TRUE(entry(file, "args").is(PickleValue::Kind::Object));
  EXPECT_EQ(entry(file, "args").as_string(), "argparse.Namespace");

  auto state = state_dict_of(entry(file, "state"), "state");
  ASSERT_EQ(state.size(), 2u);
  EXPECT_TRUE(torch::equal(state.at("weight"), torch::arange(6, torch::kFloat32).reshape({3, 2}) / 10));
  EXPECT_TRUE(torch::equal(state.at("bias"), torch::tensor({1.0f, 2.0f, 3.0f})));
}

TEST(TorchFile, WhatFlowlabWritesReadsBackExactly) {
  TempDir dir;
  auto path = dir / "out.pt";
  auto wide = torch::randn({3, 5});
  std::vector<PickleValue> items = {PickleValue::integer(-(int64_t{1} << 40)), PickleValue::number(0.1),
                                    PickleValue::string("text"), PickleValue(), PickleValue::boolean(false)};
  auto value = PickleValue::dict({
      {PickleValue::string("tensor"), PickleValue::tensor(wide.t())},  // not contiguous: written as a copy
      {PickleValue::string("half"), PickleValue::tensor(wide.to(torch::kFloat16))},
      {PickleValue::string("bytes"), PickleValue::tensor(bytes_tensor(std::string("\0\1\2", 3)))},
      {PickleValue::string("items"), PickleValue::list(items)},
      {PickleValue::string("int"), PickleValue::integer(300)},
  });
  write_torch_file(path, value);
  auto back = read_torch_file(path);
  EXPECT_TRUE(torch::equal(entry(back, "tensor").as_tensor(), wide.t()));
  EXPECT_TRUE(torch::equal(entry(back, "half").as_tensor(), wide.to(torch::kFloat16)));
  EXPECT_EQ(tensor_bytes(entry(back, "bytes").as_tensor()), std::string("\0\1\2", 3));
  const auto& got = entry(back, "items").items();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].as_int(), -(int64_t{1} << 40));
  EXPECT_EQ(got[1].as_float(), 0.1);
  EXPECT_EQ(got[2].as_string(), "text");
  EXPECT_TRUE(got[3].is(PickleValue::Kind::None));
  EXPECT_FALSE(got[4].as_bool());
  EXPECT_EQ(entry(back, "int").as_int(), 300);
  // Every storage starts on a 64-byte boundary, as PyTorch writes them (so they can be mapped).
  auto bytes = read_file_bytes(path);
  for (const auto& m : zip_members(bytes, path))
    if (m.name.rfind("archive/data/", 0) == 0) EXPECT_EQ(m.data_offset % 64, 0u) << m.name;
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(TorchFile, MalformedAndHostileFilesAreOneLineErrors) {
  // Not a zip, PyTorch's format before 1.6, a TorchScript archive.
  EXPECT_NE(rejection({'h', 'e', 'l', 'l', 'o'}).find("not a torch.save file"), std::string::npos);
  EXPECT_NE(rejection({0x80, 0x02, 0x8a, 0x0a}).find("before version 1.6"), std::string::npos);
  {
    TempDir dir;
    torch::serialize::OutputArchive archive;
    archive.write("w", torch::ones({2}));
    archive.save_to(dir / "script.pt");
    EXPECT_NE(rejection(read_file_bytes(dir / "script.pt")).find("TorchScript"), std::string::npos);
  }
  // A truncated file.
  auto good = read_file_bytes(std::string(FLOWLAB_FIXTURES_DIR) + "/torch_saved.pt");
  EXPECT_NE(rejection(std::vector<uint8_t>(good.begin(), good.begin() + good.size() * 2 / 3)), "");

  const std::string rebuild = "ctorch._utils\n_rebuild_tensor_v2\n";
  const std::string float_storage = "(X\x07\0\0\0storagectorch\nFloatStorage\nX\x01\0\0\0" "0X\x03\0\0\0cpuK\x04tQ"s;
  // A tensor of 4 floats whose storage record is missing.
  auto missing = "\x80\x02" + rebuild + "(" + float_storage + "K\0(K\x04t(K\x01t\x89)tR."s;
  EXPECT_NE(rejection(archive_of(missing)).find("missing"), std::string::npos);
  // A view that reaches past its storage: 4 floats, viewed as 5.
  auto past = "\x80\x02" + rebuild + "(" + float_storage + "K\0(K\x05t(K\x01t\x89)tR."s;
  EXPECT_NE(rejection(archive_of(past, {{"data/0", std::string(16, '\0')}}))
                .find("past its storage"),
            std::string::npos);
  // A storage record shorter than the element count it claims.
  auto shorter = "\x80\x02" + rebuild + "(" + float_storage + "K\0(K\x04t(K\x01t\x89)tR."s;
  EXPECT_NE(rejection(archive_of(shorter, {{"data/0", std::string(8, '\0')}}))
                .find("holds 8 bytes"),
            std::string::npos);
  // os.system("...") as a REDUCE: an opaque object; nothing runs.
  auto call = read_torch_bytes(archive_of("\x80\x02" "cos\nsystem\n(X\x04\0\0\0" "truetR."s), "input.pt");
  EXPECT_TRUE(call.is(PickleValue::Kind::Object));
  EXPECT_EQ(call.as_string(), "os.system");
  // A list put inside itself (through the memo), and nesting beyond any real checkpoint.
  EXPECT_NE(rejection(archive_of("\x80\x02]q\0h\0a."s)).find("inside itself"), std::string::npos);
  EXPECT_NE(rejection(archive_of("\x80\x02" + std::string(5000, ']') + std::string(4999, 'a') + ".")).find("nested"),
            std::string::npos);
  // Opcodes torch.save never writes, a pickle cut short, an unbalanced stack.
  EXPECT_NE(rejection(archive_of("\x80\x02I1\n.")).find("opcode 0x49"), std::string::npos);
  EXPECT_NE(rejection(archive_of("\x80\x02X\xff\0\0\0ab"s)).find("truncated"), std::string::npos);
  EXPECT_NE(rejection(archive_of("\x80\x02NN.")).find("unbalanced"), std::string::npos);
}
