// Image files and grids. The only place where images change between uint8 and float.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace flowlab {

// uint8 [0, 255] -> float [-1, 1], any shape.
torch::Tensor uint8_to_float(const torch::Tensor& x);
// float [-1, 1] -> uint8 [0, 255] (clamped, rounded), any shape.
torch::Tensor float_to_uint8(const torch::Tensor& x);

// Reads a PNG/JPG/BMP as uint8 (channels, H, W); channels 1 or 3. Throws Error on a bad file.
torch::Tensor read_image(const std::string& path, int channels);
// Writes uint8 (C, H, W), C in {1, 3}, as PNG, atomically.
void write_png(const std::string& path, const torch::Tensor& image);

// x: float (N, C, H, W) in [-1, 1] -> float (C, H', W') grid of `per_row` columns.
torch::Tensor make_grid(const torch::Tensor& x, int64_t per_row, int64_t padding = 2,
                        double pad_value = 1.0);

// Writes a float [-1, 1] batch as a PNG grid.
void save_grid(const std::string& path, const torch::Tensor& x, int64_t per_row, int64_t padding = 2);
// Writes each image of a float [-1, 1] batch as <dir>/<prefix><index>.png.
void save_images(const std::string& dir, const torch::Tensor& x, const std::string& prefix = "");
// x: (rows * per_row, C, H, W) in row-major class order; one row per class, each row labelled
// on the left with row_labels[i] when given.
void save_class_grid(const std::string& path, const torch::Tensor& x, int64_t per_row,
                     const std::vector<std::string>& row_labels);

// x: (rows * per_row, C, H, W) in row-major order; column j titled column_titles[j] above it.
// Images are enlarged (nearest neighbour) by the smallest integer factor that fits the titles.
void save_titled_grid(const std::string& path, const torch::Tensor& x, int64_t per_row,
                      const std::vector<std::string>& column_titles);

// Draws `text` onto a uint8 (C, H, W) image at (x, y) in `value`, with the stb_easy_font bitmap font.
void draw_text(torch::Tensor& image, const std::string& text, int x, int y, uint8_t value);

}  // namespace flowlab
