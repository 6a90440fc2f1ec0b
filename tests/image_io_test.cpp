#include <gtest/gtest.h>

#include "flowlab/data/transforms.h"
#include "flowlab/error.h"
#include "flowlab/io/image.h"
#include "test_helpers.h"

using namespace flowlab;

TEST(ImageIo, Uint8FloatConversionEndpointsAndRoundTrip) {
  auto u8 = torch::arange(256, torch::kInt).to(torch::kUInt8);
  auto f = uint8_to_float(u8);
  EXPECT_FLOAT_EQ(f[0].item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(f[255].item<float>(), 1.0f);
  EXPECT_TRUE(torch::equal(float_to_uint8(f), u8));
  EXPECT_EQ(float_to_uint8(torch::tensor({-3.0f, 3.0f}))[1].item<int>(), 255);
}

TEST(ImageIo, PngRoundTripRgbAndGray) {
  flowlab::testing::TempDir dir;
  auto rgb = torch::randint(0, 256, {3, 7, 5}, torch::kInt).to(torch::kUInt8);
  write_png(dir / "rgb.png", rgb);
  EXPECT_TRUE(torch::equal(read_image(dir / "rgb.png", 3), rgb));
  auto gray = torch::randint(0, 256, {1, 4, 6}, torch::kInt).to(torch::kUInt8);
  write_png(dir / "gray.png", gray);
  EXPECT_TRUE(torch::equal(read_image(dir / "gray.png", 1), gray));
  EXPECT_FALSE(std::filesystem::exists(dir / "rgb.png.tmp"));
}

TEST(ImageIo, ReadingAMissingOrCorruptFileThrows) {
  flowlab::testing::TempDir dir;
  EXPECT_THROW(read_image(dir / "missing.png", 3), Error);
  flowlab::testing::write_text(dir / "bad.png", "\x89PNG garbage");
  EXPECT_THROW(read_image(dir / "bad.png", 3), Error);
}

TEST(ImageIo, GridPlacesImagesWithPadding) {
  auto x = torch::stack({torch::full({1, 2, 2}, -1.0), torch::full({1, 2, 2}, 0.0),
                         torch::full({1, 2, 2}, 1.0)});
  auto grid = make_grid(x, 2, 1, 0.5);
  EXPECT_EQ(grid.sizes(), (std::vector<int64_t>{1, 7, 7}));
  EXPECT_FLOAT_EQ(grid[0][1][1].item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(grid[0][1][4].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(grid[0][4][1].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(grid[0][4][4].item<float>(), 0.5f);  // empty cell keeps the pad value
  EXPECT_FLOAT_EQ(grid[0][0][0].item<float>(), 0.5f);
}

TEST(ImageIo, ClassGridHasALabelColumnWithText) {
  flowlab::testing::TempDir dir;
  auto x = torch::zeros({4, 3, 8, 8});
  save_class_grid(dir / "g.png", x, 2, {"cat", "dog"});
  auto img = read_image(dir / "g.png", 3);
  int64_t grid_width = 2 * 10 + 2;
  ASSERT_GT(img.size(2), grid_width);
  auto label_column = img.slice(2, 0, img.size(2) - grid_width);
  EXPECT_EQ(label_column.min().item<int>(), 0);  // black text pixels drawn
}

TEST(Transforms, PadCentersAndResizeKeepsConstantImages) {
  auto img = torch::full({1, 1, 2, 2}, 9, torch::kUInt8);
  auto padded = fit_images(img, 4, "pad");
  EXPECT_EQ(padded.sum().item<int>(), 36);
  EXPECT_EQ(padded[0][0][1][1].item<int>(), 9);
  EXPECT_EQ(padded[0][0][0][0].item<int>(), 0);
  auto flat = torch::full({1, 3, 10, 10}, 77, torch::kUInt8);
  auto resized = fit_images(flat, 4, "resize");
  EXPECT_EQ(resized.sizes(), (std::vector<int64_t>{1, 3, 4, 4}));
  EXPECT_EQ(resized.min().item<int>(), 77);
  EXPECT_EQ(resized.max().item<int>(), 77);
}

TEST(Transforms, FlipMirrorsAboutHalfTheImages) {
  torch::manual_seed(0);
  auto x = torch::arange(4, torch::kFloat).view({1, 1, 1, 4}).repeat({1000, 1, 1, 1});
  StepRandom rng;
  auto y = random_horizontal_flip(x, rng);
  auto flipped = (y.select(3, 0) == 3).sum().item<int64_t>();
  EXPECT_GT(flipped, 430);
  EXPECT_LT(flipped, 570);
  auto kept = (y.select(3, 0) == 0).sum().item<int64_t>();
  EXPECT_EQ(flipped + kept, 1000);
}
