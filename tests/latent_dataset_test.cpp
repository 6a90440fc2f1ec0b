// Latent datasets: SHA-256 against FIPS 180-4's examples, encode_latents' shards and index read
// back exactly (posteriors, mirrored posteriors, labels, the autoencoder's identity), a stopped
// run resumed, the files' refusals, and the programs at a size only the autoencoder decides.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "flowlab/data/latent_dataset.h"
#include "flowlab/data/shapes.h"
#include "flowlab/io/files.h"
#include "flowlab/io/sha256.h"
#include "flowlab/tasks/encode_latents.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

TEST(Sha256, MatchesTheStandardsExamples) {
  // FIPS 180-4 / NIST CSRC example values.
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // A million 'a', fed in pieces that straddle the 64-byte blocks, and through a file.
  Sha256 pieces;
  std::string chunk(999, 'a');
  for (int i = 0; i < 1001; ++i) pieces.update(chunk.data(), chunk.size());
  pieces.update(chunk.data(), 1);
  EXPECT_EQ(pieces.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  TempDir dir;
  write_text(dir / "a.bin", std::string(1000000, 'a'));
  EXPECT_EQ(sha256_file(dir / "a.bin"), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_NE(error_of([&] { sha256_file(dir / "none.bin"); }).find("cannot read"), std::string::npos);
}

namespace {

AutoencoderKL tiny_vae() {
  AutoencoderKLOptions o;
  o.block_out_channels = {8, 16};
  o.layers_per_block = 1;
  o.norm_groups = 4;
  o.scaling_factor = 0.5;
  o.shift_factor = 0.25;
  torch::manual_seed(0);
  AutoencoderKL vae(o);
  vae.eval();
  return vae;
}

const AutoencoderIdentity kIdentity{"/models/vae.safetensors", "ab12", 0.5, 0.25};
const LatentSource kSource{"shapes", "train", "resize", 8};

}  // namespace

TEST(LatentDataset, EncodedShardsReadBackAsTheEncodersPosteriorsAndDecodeToItsReconstructions) {
  auto vae = tiny_vae();
  auto data = make_shapes(10, 8, 0);
  TempDir dir;
  EncodeLatentsOptions options;
  options.batch_size = 3;  // batches that straddle the shards
  options.shard_size = 4;  // shards of 4, 4 and 2
  options.flips = true;
  EXPECT_EQ(encode_latents(vae, kIdentity, data, kSource, options, dir.path(), torch::kCPU), 10);
  EXPECT_TRUE(std::filesystem::exists(dir / "shard-00002.safetensors"));

  auto set = read_latent_dataset(dir.path());
  torch::NoGradGuard no_grad;
  auto x = data.batch(torch::arange(10)).images;
  auto posterior = vae.encode(x), mirrored = vae.encode(torch::flip(x, {3}));
  ASSERT_EQ(set.size(), 10);
  EXPECT_LT((set.rows.mean - posterior.mean).abs().max().item<double>(), 1e-5);
  EXPECT_LT((set.rows.std - posterior.std()).abs().max().item<double>(), 1e-5);
  EXPECT_LT((set.rows.flip_mean - mirrored.mean).abs().max().item<double>(), 1e-5);
  EXPECT_LT((set.rows.flip_std - mirrored.std()).abs().max().item<double>(), 1e-5);
  EXPECT_GT((set.rows.flip_mean - set.rows.mean).abs().max().item<double>(), 1e-3);  // a real mirror
  EXPECT_TRUE(torch::equal(set.rows.labels, data.labels));
  EXPECT_EQ(set.class_names, data.class_names);
  EXPECT_EQ(set.vae.path, kIdentity.path);
  EXPECT_EQ(set.vae.sha256, kIdentity.sha256);
  EXPECT_EQ(set.vae.scaling_factor, 0.5);
  EXPECT_EQ(set.vae.shift_factor, 0.25);
  EXPECT_EQ(set.source.dataset, "shapes");
  EXPECT_EQ(set.source.image_size, 8);
  EXPECT_TRUE(set.flips);
  // Decoding the stored means is the autoencoder's own reconstruction.
  EXPECT_LT((vae.decode(set.rows.mean) - vae.reconstruct(x)).abs().max().item<double>(), 1e-4);
}

TEST(LatentDataset, AStoppedRunResumesKeepingItsShardsAndAnotherAutoencodersAreRefused) {
  auto vae = tiny_vae();
  auto data = make_shapes(10, 8, 0);
  TempDir dir;
  EncodeLatentsOptions options;
  options.shard_size = 4;
  encode_latents(vae, kIdentity, data, kSource, options, dir.path(), torch::kCPU);
  auto first = read_file_text(dir / "shard-00000.safetensors");
  auto before = read_latent_dataset(dir.path());

  // As if stopped after shard 1: shard 2 and the index are missing. Only shard 2's 2 images are
  // encoded again.
  std::filesystem::remove(dir / "shard-00002.safetensors");
  std::filesystem::remove(dir / "latents.json");
  EXPECT_NE(error_of([&] { read_latent_dataset(dir.path()); }).find("holds no latents.json"), std::string::npos);
  EXPECT_EQ(encode_latents(vae, kIdentity, data, kSource, options, dir.path(), torch::kCPU), 2);
  EXPECT_EQ(read_file_text(dir / "shard-00000.safetensors"), first);
  auto after = read_latent_dataset(dir.path());
  EXPECT_TRUE(torch::equal(after.rows.mean, before.rows.mean));
  EXPECT_TRUE(torch::equal(after.rows.std, before.rows.std));

  // Asking for flips re-encodes every shard; another autoencoder is refused.
  options.flips = true;
  EXPECT_EQ(encode_latents(vae, kIdentity, data, kSource, options, dir.path(), torch::kCPU), 10);
  auto other = kIdentity;
  other.sha256 = "cd34";
  auto message = error_of([&] { encode_latents(vae, other, data, kSource, options, dir.path(), torch::kCPU); });
  EXPECT_NE(message.find("encoded by another autoencoder"), std::string::npos) << message;
}

TEST(LatentDataset, BadFilesAreOneErrorNamingTheFile) {
  auto vae = tiny_vae();
  auto data = make_shapes(6, 8, 0);
  TempDir dir;
  EncodeLatentsOptions options;
  options.shard_size = 4;
  encode_latents(vae, kIdentity, data, kSource, options, dir.path(), torch::kCPU);
  auto index = read_file_text(dir / "latents.json");
  auto with = [&](const std::string& from, const std::string& to) {
    auto text = index;
    auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    write_text(dir / "latents.json", text.replace(at, from.size(), to));
    return error_of([&] { read_latent_dataset(dir.path()); });
  };
  EXPECT_NE(with("\"version\": 1", "\"version\": 2").find("version 2"), std::string::npos);
  EXPECT_NE(with("\"images\": 6", "\"images\": 9").find("do not agree"), std::string::npos);
  EXPECT_NE(with("\"images\": 6", "\"images\": 7").find("rows of another shape"), std::string::npos);
  EXPECT_NE(with("\"sha256\": \"ab12\"", "\"sha256\": \"ff\"").find("another autoencoder"), std::string::npos);
  EXPECT_NE(with("flowlab-latents", "other").find("not a flowlab latent index"), std::string::npos);
  EXPECT_NE(with("\"flips\": false", "\"flips\": true").find("no tensor flip_mean"), std::string::npos);
  EXPECT_NE(with("\"images\"", "\"count\"").find("latents.json"), std::string::npos);  // a key missing
  write_text(dir / "latents.json", index);
  std::filesystem::remove(dir / "shard-00001.safetensors");
  EXPECT_NE(error_of([&] { read_latent_dataset(dir.path()); }).find("shard-00001.safetensors, which is missing"),
            std::string::npos);
  write_text(dir / "shard-00000.safetensors", "not safetensors");
  EXPECT_NE(error_of([&] { read_latent_dataset(dir.path()); }).find("shard-00000.safetensors"), std::string::npos);
}

TEST(LatentDataset, TheProgramsTakeAnyImageSizeTheAutoencoderTakes) {
  // 64x64 is no size for the default TinyUNet's attention resolution (8); encode_latents and
  // evaluate_vae have no UNet, so it must not be checked.
  TempDir dir;
  write_tiny_autoencoder(dir.path(), 64);
  std::vector<std::string> encode{app("encode_latents"), "--vae", dir / "vae.safetensors", "--image_size", "64",
                                  "--set", "data.num_images=2", "--threads", "1", "--output", dir / "latents"};
  ASSERT_EQ(wait_exit_code(spawn(encode, dir / "encode.log")), 0) << read_file_text(dir / "encode.log");
  auto latents = read_latent_dataset(dir / "latents");
  EXPECT_EQ(latents.rows.mean.sizes(), (std::vector<int64_t>{2, 4, 32, 32}));
  std::vector<std::string> evaluate{app("evaluate_vae"), "--vae", dir / "vae.safetensors", "--image_size", "64",
                                    "--num_images", "2", "--no_fid", "--threads", "1", "--grid", dir / "grid.png"};
  ASSERT_EQ(wait_exit_code(spawn(evaluate, dir / "evaluate.log")), 0) << read_file_text(dir / "evaluate.log");
  EXPECT_TRUE(std::filesystem::exists(dir / "grid.png"));
}
