// Animated GIFs: frames written by write_gif and read back by giflib's decoder (grey levels exact,
// colours through the quantizer within a few levels; delays and looping); generate_samples
// --trajectory --gif writes one frame per time; bad requests are one line.
#include <gtest/gtest.h>

#ifdef FLOWLAB_HAVE_GIF
#include <gif_lib.h>
#endif

#include "flowlab/io/gif.h"
#include "test_helpers.h"

using namespace flowlab;
using namespace flowlab::testing;

#ifdef FLOWLAB_HAVE_GIF
namespace {

struct DecodedGif {
  std::vector<torch::Tensor> frames;  // uint8 (3, H, W)
  std::vector<int> delays;
  bool loops = false;
};

DecodedGif decode(const std::string& path) {
  int error = 0;
  GifFileType* gif = DGifOpenFileName(path.c_str(), &error);
  EXPECT_NE(gif, nullptr);
  EXPECT_EQ(DGifSlurp(gif), GIF_OK);
  DecodedGif out;
  for (int k = 0; k < gif->ImageCount; ++k) {
    const SavedImage& image = gif->SavedImages[k];
    const ColorMapObject* palette = image.ImageDesc.ColorMap ? image.ImageDesc.ColorMap : gif->SColorMap;
    const int h = image.ImageDesc.Height, w = image.ImageDesc.Width;
    auto frame = torch::empty({3, h, w}, torch::kUInt8);
    auto a = frame.accessor<uint8_t, 3>();
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const GifColorType& c = palette->Colors[image.RasterBits[y * w + x]];
        a[0][y][x] = c.Red;
        a[1][y][x] = c.Green;
        a[2][y][x] = c.Blue;
      }
    out.frames.push_back(frame);
    GraphicsControlBlock gcb;
    if (DGifSavedExtensionToGCB(gif, k, &gcb) == GIF_OK) out.delays.push_back(gcb.DelayTime);
    for (int e = 0; e < image.ExtensionBlockCount; ++e)
      if (image.ExtensionBlocks[e].Function == APPLICATION_EXT_FUNC_CODE &&
          std::string(reinterpret_cast<char*>(image.ExtensionBlocks[e].Bytes), 11) == "NETSCAPE2.0")
        out.loops = true;
  }
  DGifCloseFile(gif, &error);
  return out;
}

}  // namespace

TEST(Gif, FramesReadBackWithTheirDelaysAndLooping) {
  TempDir dir;
  torch::manual_seed(0);
  std::vector<torch::Tensor> grey, colour;
  for (int k = 0; k < 3; ++k) {
    grey.push_back(torch::randint(0, 256, {1, 12, 20}, torch::kUInt8));
    // Smooth colour images: a gradient per channel, as a sample grid's tiles mostly are.
    auto ramp = torch::linspace(0, 255, 20).view({1, 1, 20}).expand({3, 12, 20}).clone();
    ramp[1] = ramp[1].flip(1);
    ramp[2].fill_(40.0 * k);
    colour.push_back(ramp.round().to(torch::kUInt8));
  }
  write_gif(dir / "grey.gif", grey, 10, 50);
  auto g = decode(dir / "grey.gif");
  ASSERT_EQ(g.frames.size(), 3u);
  for (int k = 0; k < 3; ++k) EXPECT_TRUE(torch::equal(g.frames[k], grey[k].expand({3, -1, -1}))) << k;
  EXPECT_EQ(g.delays, (std::vector<int>{10, 10, 50}));
  EXPECT_TRUE(g.loops);
  write_gif(dir / "colour.gif", colour);
  auto c = decode(dir / "colour.gif");
  ASSERT_EQ(c.frames.size(), 3u);
  for (int k = 0; k < 3; ++k)
    EXPECT_LE((c.frames[k].to(torch::kInt32) - colour[k].to(torch::kInt32)).abs().max().item<int>(), 8) << k;
  EXPECT_NE(error_of([&] { write_gif(dir / "bad.gif", {grey[0], torch::zeros({1, 5, 5}, torch::kUInt8)}); }), "");
  EXPECT_NE(error_of([&] { write_gif(dir / "bad.gif", {torch::zeros({3, 12, 20})}); }), "");
  EXPECT_NE(error_of([&] { write_gif(dir / "none.gif", {}); }), "");
}
#endif

TEST(Gif, GenerateWritesOneFramePerTrajectoryTime) {
  TempDir d;
  auto run = d / "run";
  auto trained = train_quickstart("train_cfm", run, 2);
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  auto generate = app("generate_samples") + " --checkpoint " + run + "/last.pt --num_samples 8 --steps 4 --threads 1" +
                  " --output_dir " + (d / "samples");
  auto no_trajectory = run_command(generate + " --gif " + (d / "a.gif"));
  EXPECT_NE(no_trajectory.exit_code, 0);
  EXPECT_NE(no_trajectory.output.find("--gif needs --trajectory K"), std::string::npos) << no_trajectory.output;
#ifdef FLOWLAB_HAVE_GIF
  auto r = run_command(generate + " --trajectory 4 --gif " + (d / "a.gif"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto gif = decode(d / "a.gif");
  ASSERT_EQ(gif.frames.size(), 5u);
  EXPECT_GE(gif.frames[0].size(2), 256);
  EXPECT_TRUE(std::filesystem::exists(d / "samples/trajectory.png"));
  EXPECT_FALSE(torch::equal(gif.frames.front(), gif.frames.back()));  // noise, then samples
#endif
}
