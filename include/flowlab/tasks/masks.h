// Inpainting masks: 1 = known pixel, 0 = to fill. Every mask is a function of (type, size,
// seed, index), so a mask set is reproducible and independent of batching.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace flowlab {

// center, random_bbox, irregular, half (the types "all" expands to, in that order).
const std::vector<std::string>& mask_types();

// (n, 1, size, size) float masks of one type for images first_index .. first_index + n - 1.
//   center:      a centred square of side size/2 (25% of the pixels);
//   random_bbox: one rectangle with sides uniform in [8, 20] px at 32x32, scaled with size;
//   irregular:   3 to 8 brush strokes (random walks of discs): 20% of the pixels on average,
//                3-41% per mask at 32x32;
//   half:        the left, right, top or bottom half.
// Throws Error for an unknown type, listing the known ones.
torch::Tensor make_masks(const std::string& type, int64_t n, int64_t size, uint64_t seed,
                         int64_t first_index = 0);

}  // namespace flowlab
