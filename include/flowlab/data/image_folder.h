// A folder of images: root/<class>/*.png|jpg (class ids from sorted folder names), or a flat
// folder of images (unconditional).
#pragma once
#include <string>

#include "flowlab/data/dataset.h"

namespace flowlab {

// Images are read as RGB and fitted to image_size x image_size by `fit` (see transforms.h);
// image_size 0 takes the first image's size (which must be square).
Dataset load_image_folder(const std::string& root, int image_size, const std::string& fit);

}  // namespace flowlab
