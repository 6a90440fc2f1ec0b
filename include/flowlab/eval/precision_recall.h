// Improved precision and recall (Kynkaanniemi et al. 2019), as the ADM evaluation suite computes
// them on Inception pool features: every feature's radius is the distance to its k-th nearest
// neighbour in its own set (itself excluded; k = 3); precision is the share of candidates inside
// some reference feature's ball, recall the share of references inside some candidate's ball.
#pragma once
#include <torch/torch.h>

namespace flowlab {

struct PrecisionRecall {
  double precision = 0, recall = 0;
};

// reference: (N, D), candidate: (M, D), each with more than k rows. Distances are taken `block`
// rows at a time, so 50,000 x 50,000 never sits in memory (float64 throughout).
PrecisionRecall precision_recall(const torch::Tensor& reference, const torch::Tensor& candidate, int64_t k = 3,
                                 int64_t block = 1000);

}  // namespace flowlab
