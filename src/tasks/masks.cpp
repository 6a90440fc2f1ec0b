#include "flowlab/tasks/masks.h"

#include <cmath>
#include <random>

#include "flowlab/error.h"

namespace flowlab {
namespace {

using Rng = std::mt19937_64;

double uniform(Rng& rng, double lo, double hi) {
  return lo + (hi - lo) * std::generate_canonical<double, 53>(rng);
}

int64_t uniform_int(Rng& rng, int64_t lo, int64_t hi) {  // inclusive
  return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

void fill_rect(torch::TensorAccessor<float, 2> m, int64_t y0, int64_t x0, int64_t h, int64_t w) {
  for (int64_t y = y0; y < y0 + h; ++y)
    for (int64_t x = x0; x < x0 + w; ++x) m[y][x] = 0;
}

void center(torch::TensorAccessor<float, 2> m, int64_t size, Rng&) {
  fill_rect(m, size / 4, size / 4, size / 2, size / 2);
}

void random_bbox(torch::TensorAccessor<float, 2> m, int64_t size, Rng& rng) {
  double scale = static_cast<double>(size) / 32.0;
  int64_t lo = std::max<int64_t>(1, std::lround(8 * scale)), hi = std::max(lo, std::lround(20 * scale));
  int64_t h = uniform_int(rng, lo, hi), w = uniform_int(rng, lo, hi);
  fill_rect(m, uniform_int(rng, 0, size - h), uniform_int(rng, 0, size - w), h, w);
}

// Each stroke: a random walk of 3-6 segments from a random start, painted with a disc brush.
void irregular(torch::TensorAccessor<float, 2> m, int64_t size, Rng& rng) {
  double scale = static_cast<double>(size) / 32.0;
  int64_t strokes = uniform_int(rng, 3, 8);
  for (int64_t s = 0; s < strokes; ++s) {
    double y = uniform(rng, 0, size), x = uniform(rng, 0, size);
    double radius = uniform(rng, 1.1, 2.0) * scale;
    int64_t segments = uniform_int(rng, 2, 5);
    for (int64_t k = 0; k < segments; ++k) {
      double angle = uniform(rng, 0, 2 * M_PI), length = uniform(rng, 3, 7) * scale;
      int64_t dots = std::max<int64_t>(2, std::lround(length * 2));
      for (int64_t d = 0; d <= dots; ++d) {
        double cy = y + std::sin(angle) * length * d / dots, cx = x + std::cos(angle) * length * d / dots;
        for (int64_t py = std::max<int64_t>(0, std::floor(cy - radius));
             py <= std::min<int64_t>(size - 1, std::ceil(cy + radius)); ++py)
          for (int64_t px = std::max<int64_t>(0, std::floor(cx - radius));
               px <= std::min<int64_t>(size - 1, std::ceil(cx + radius)); ++px)
            if ((py - cy) * (py - cy) + (px - cx) * (px - cx) <= radius * radius) m[py][px] = 0;
      }
      y += std::sin(angle) * length;
      x += std::cos(angle) * length;
    }
  }
}

void half(torch::TensorAccessor<float, 2> m, int64_t size, Rng& rng) {
  switch (uniform_int(rng, 0, 3)) {
    case 0: fill_rect(m, 0, 0, size, size / 2); break;         // left
    case 1: fill_rect(m, 0, size / 2, size, size - size / 2); break;  // right
    case 2: fill_rect(m, 0, 0, size / 2, size); break;         // top
    default: fill_rect(m, size / 2, 0, size - size / 2, size); break;  // bottom
  }
}

}  // namespace

const std::vector<std::string>& mask_types() {
  static const std::vector<std::string> types = {"center", "random_bbox", "irregular", "half"};
  return types;
}

torch::Tensor make_masks(const std::string& type, int64_t n, int64_t size, uint64_t seed,
                         int64_t first_index) {
  using Painter = void (*)(torch::TensorAccessor<float, 2>, int64_t, Rng&);
  Painter paint = nullptr;
  if (type == "center") paint = center;
  else if (type == "random_bbox") paint = random_bbox;
  else if (type == "irregular") paint = irregular;
  else if (type == "half") paint = half;
  else throw Error("unknown mask type '" + type + "' (known: center random_bbox irregular half all)");
  auto masks = torch::ones({n, 1, size, size});
  auto a = masks.accessor<float, 4>();
  for (int64_t i = 0; i < n; ++i) {
    // One stream per (seed, type, image index).
    std::seed_seq seq{seed, static_cast<uint64_t>(first_index + i), std::hash<std::string>{}(type)};
    Rng rng(seq);
    paint(a[i][0], size, rng);
  }
  return masks;
}

}  // namespace flowlab
