// The built-in "shapes" dataset: ten classes of procedurally drawn RGB images, no files needed.
// Deterministic for a given seed. Classes: circle, square, triangle, cross, ring, stripes,
// diamond, plus, checker, frame; random colours, position, size and background.
#pragma once
#include <cstdint>

#include "flowlab/data/dataset.h"

namespace flowlab {

Dataset make_shapes(int64_t num_images, int image_size, int64_t seed);

}  // namespace flowlab
