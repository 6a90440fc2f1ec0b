#include "flowlab/data/shapes.h"

#include <cmath>
#include <random>

namespace flowlab {
namespace {

const std::vector<std::string> kShapeNames = {"circle",  "square", "triangle", "cross",   "ring",
                                              "stripes", "diamond", "plus",    "checker", "frame"};

// Uniform in [lo, hi) from the top 53 bits, identical on every platform.
double uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
}

// (u, v): pixel position relative to the shape's centre, in units of its radius.
bool inside(int64_t shape, double u, double v) {
  double au = std::fabs(u), av = std::fabs(v);
  bool in_box = au <= 1.0 && av <= 1.0;
  switch (shape) {
    case 0: return u * u + v * v <= 1.0;
    case 1: return au <= 0.8 && av <= 0.8;
    case 2: return v <= 0.8 && v >= -1.0 && au <= 0.9 * (v + 1.0) / 1.8;
    case 3: return in_box && (std::fabs(u - v) <= 0.35 || std::fabs(u + v) <= 0.35);
    case 4: { double r = std::sqrt(u * u + v * v); return r >= 0.55 && r <= 1.0; }
    case 5: return in_box && static_cast<int>(std::floor((v + 1.0) * 2.5)) % 2 == 0;
    case 6: return au + av <= 1.0;
    case 7: return in_box && (au <= 0.28 || av <= 0.28);
    case 8: return in_box && (static_cast<int>(std::floor((u + 1.0) * 2.0)) +
                              static_cast<int>(std::floor((v + 1.0) * 2.0))) % 2 == 0;
    default: return std::max(au, av) <= 1.0 && std::max(au, av) >= 0.6;
  }
}

}  // namespace

Dataset make_shapes(int64_t num_images, int image_size, int64_t seed) {
  const int64_t s = image_size;
  auto images = torch::empty({num_images, 3, s, s}, torch::kUInt8);
  auto labels = torch::empty({num_images}, torch::kInt64);
  auto* px = images.data_ptr<uint8_t>();
  auto* lb = labels.data_ptr<int64_t>();
  std::mt19937_64 rng(static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ULL + 12345);
  for (int64_t i = 0; i < num_images; ++i) {
    int64_t shape = i % 10;
    lb[i] = shape;
    double radius = uniform(rng, 0.24, 0.4) * s;
    double cx = uniform(rng, radius, s - radius), cy = uniform(rng, radius, s - radius);
    double fg[3], bg[3];
    for (int c = 0; c < 3; ++c) fg[c] = uniform(rng, 0.45, 1.0);
    for (int c = 0; c < 3; ++c) bg[c] = uniform(rng, 0.0, 0.3);
    uint8_t* img = px + i * 3 * s * s;
    for (int64_t y = 0; y < s; ++y) {
      for (int64_t x = 0; x < s; ++x) {
        // 2x2 supersampling for smooth edges.
        double cover = 0.0;
        for (double oy : {0.25, 0.75})
          for (double ox : {0.25, 0.75})
            cover += inside(shape, (x + ox - cx) / radius, (y + oy - cy) / radius) ? 0.25 : 0.0;
        for (int c = 0; c < 3; ++c)
          img[(c * s + y) * s + x] =
              static_cast<uint8_t>(std::lround(255.0 * (cover * fg[c] + (1.0 - cover) * bg[c])));
      }
    }
  }
  Dataset data;
  data.name = "shapes";
  data.images = images;
  data.labels = labels;
  data.class_names = kShapeNames;
  return data;
}

}  // namespace flowlab
