#include "flowlab/io/image.h"

#include <stb_easy_font.h>
#include <stb_image.h>
#include <stb_image_write.h>

#include <limits>

#include "flowlab/error.h"
#include "flowlab/io/files.h"

namespace flowlab {

torch::Tensor uint8_to_float(const torch::Tensor& x) {
  return x.to(torch::kFloat32).div_(127.5).sub_(1.0);
}

torch::Tensor float_to_uint8(const torch::Tensor& x) {
  return x.to(torch::kFloat32).add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch::kUInt8);
}

torch::Tensor read_image(const std::string& path, int channels) {
  TORCH_CHECK(channels == 1 || channels == 3, "read_image: channels must be 1 or 3, got ", channels);
  int w = 0, h = 0, file_channels = 0;
  // Decoded from memory: a truncated file that claims millions of pixels then costs one pass over
  // them, not one read() call per missing byte.
  auto bytes = read_file_text(path);
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw Error("cannot read image " + path + ": larger than 2 GiB");
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int size = static_cast<int>(bytes.size());
  // A few corrupt header bytes can claim gigapixels; refuse before decoding.
  constexpr int64_t kMaxPixels = int64_t{1} << 26;  // 8192 x 8192
  if (stbi_info_from_memory(data, size, &w, &h, &file_channels) && int64_t{w} * h > kMaxPixels)
    throw Error("cannot read image " + path + ": " + std::to_string(w) + "x" + std::to_string(h) +
                " is larger than the 8192x8192 pixels flowlab reads");
  unsigned char* pixels = stbi_load_from_memory(data, size, &w, &h, &file_channels, channels);
  if (!pixels) {
    const char* reason = stbi_failure_reason();
    throw Error("cannot read image " + path + ": " + (reason ? reason : "unknown format"));
  }
  auto hwc = torch::from_blob(pixels, {h, w, channels}, torch::kUInt8).clone();
  stbi_image_free(pixels);
  return hwc.permute({2, 0, 1}).contiguous();
}

void write_png(const std::string& path, const torch::Tensor& image) {
  TORCH_CHECK(image.dim() == 3 && (image.size(0) == 1 || image.size(0) == 3) &&
                  image.scalar_type() == torch::kUInt8,
              "write_png expects uint8 (1|3, H, W), got ", image.sizes(), " ", image.scalar_type());
  auto hwc = image.to(torch::kCPU).permute({1, 2, 0}).contiguous();
  int c = static_cast<int>(image.size(0)), h = static_cast<int>(image.size(1)),
      w = static_cast<int>(image.size(2));
  std::vector<uint8_t> encoded;
  auto append = [](void* ctx, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(ctx);
    auto* bytes = static_cast<uint8_t*>(data);
    out->insert(out->end(), bytes, bytes + size);
  };
  if (!stbi_write_png_to_func(append, &encoded, w, h, c, hwc.data_ptr<uint8_t>(), w * c))
    throw Error("cannot encode PNG " + path);
  write_file_atomic(path, encoded.data(), encoded.size());
}

torch::Tensor make_grid(const torch::Tensor& x, int64_t per_row, int64_t padding, double pad_value) {
  TORCH_CHECK(x.dim() == 4, "make_grid expects (N, C, H, W), got ", x.sizes());
  int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  per_row = std::max<int64_t>(1, std::min(per_row, n));
  int64_t rows = (n + per_row - 1) / per_row;
  auto grid = torch::full({c, rows * (h + padding) + padding, per_row * (w + padding) + padding},
                          pad_value, x.options().dtype(torch::kFloat32));
  for (int64_t i = 0; i < n; ++i) {
    int64_t r = i / per_row, col = i % per_row;
    int64_t top = padding + r * (h + padding), left = padding + col * (w + padding);
    grid.slice(1, top, top + h).slice(2, left, left + w).copy_(x[i]);
  }
  return grid;
}

void save_grid(const std::string& path, const torch::Tensor& x, int64_t per_row, int64_t padding) {
  write_png(path, float_to_uint8(make_grid(x.detach().to(torch::kCPU), per_row, padding)));
}

void save_images(const std::string& dir, const torch::Tensor& x, const std::string& prefix) {
  auto u8 = float_to_uint8(x.detach().to(torch::kCPU));
  for (int64_t i = 0; i < u8.size(0); ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "%05lld.png", static_cast<long long>(i));
    write_png(dir + "/" + prefix + name, u8[i]);
  }
}

void draw_text(torch::Tensor& image, const std::string& text, int x, int y, uint8_t value) {
  // stb_easy_font emits quads (4 vertices of 16 bytes: x, y, z floats and a colour).
  static char buffer[99999];
  int quads = stb_easy_font_print(static_cast<float>(x), static_cast<float>(y),
                                  const_cast<char*>(text.c_str()), nullptr, buffer, sizeof(buffer));
  int64_t h = image.size(1), w = image.size(2);
  auto acc = image.accessor<uint8_t, 3>();
  for (int q = 0; q < quads; ++q) {
    const float* v = reinterpret_cast<const float*>(buffer + q * 64);
    int x0 = static_cast<int>(v[0]), y0 = static_cast<int>(v[1]);
    int x1 = static_cast<int>(v[8]), y1 = static_cast<int>(v[9]);
    for (int yy = std::max(0, y0); yy < std::min<int64_t>(h, y1); ++yy)
      for (int xx = std::max(0, x0); xx < std::min<int64_t>(w, x1); ++xx)
        for (int64_t c = 0; c < image.size(0); ++c) acc[c][yy][xx] = value;
  }
}

void save_class_grid(const std::string& path, const torch::Tensor& x, int64_t per_row,
                     const std::vector<std::string>& row_labels) {
  auto grid = float_to_uint8(make_grid(x.detach().to(torch::kCPU), per_row, 2, 1.0));
  if (!row_labels.empty()) {
    int64_t label_width = 0;
    for (const auto& l : row_labels)
      label_width = std::max<int64_t>(label_width, stb_easy_font_width(const_cast<char*>(l.c_str())));
    label_width += 6;
    auto labelled = torch::full({grid.size(0), grid.size(1), grid.size(2) + label_width}, 255,
                                torch::kUInt8);
    labelled.slice(2, label_width).copy_(grid);
    int64_t cell = x.size(2) + 2;
    for (size_t r = 0; r < row_labels.size(); ++r) {
      int y = static_cast<int>(2 + static_cast<int64_t>(r) * cell + cell / 2 - 5);
      draw_text(labelled, row_labels[r], 3, y, 0);
    }
    grid = labelled;
  }
  write_png(path, grid);
}

void save_titled_grid(const std::string& path, const torch::Tensor& x, int64_t per_row,
                      const std::vector<std::string>& column_titles) {
  int64_t title_width = 0;
  for (const auto& t : column_titles)
    title_width = std::max<int64_t>(title_width, stb_easy_font_width(const_cast<char*>(t.c_str())));
  // Enlarge (nearest) by the smallest factor that fits the longest title over one column.
  int64_t scale = std::max<int64_t>(1, (title_width + 4 + x.size(3) - 1) / x.size(3));
  auto images = x.detach().to(torch::kCPU).repeat_interleave(scale, 2).repeat_interleave(scale, 3);
  auto grid = float_to_uint8(make_grid(images, per_row, 2, 1.0));
  const int64_t title_height = 14, cell = images.size(3) + 2;
  auto titled = torch::full({grid.size(0), grid.size(1) + title_height, grid.size(2)}, 255, torch::kUInt8);
  titled.slice(1, title_height).copy_(grid);
  for (size_t j = 0; j < column_titles.size(); ++j) {
    int64_t width = stb_easy_font_width(const_cast<char*>(column_titles[j].c_str()));
    int x0 = static_cast<int>(2 + static_cast<int64_t>(j) * cell + (cell - 2 - width) / 2);
    draw_text(titled, column_titles[j], x0, 3, 0);
  }
  write_png(path, titled);
}

}  // namespace flowlab
