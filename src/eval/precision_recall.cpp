#include "flowlab/eval/precision_recall.h"

#include <string>

#include "flowlab/error.h"

namespace flowlab {
namespace {

// Each row's distance to its k-th nearest neighbour among `set`'s rows (itself, at 0, excluded).
torch::Tensor knn_radii(const torch::Tensor& set, int64_t k, int64_t block) {
  std::vector<torch::Tensor> radii;
  for (int64_t start = 0; start < set.size(0); start += block) {
    auto rows = set.slice(0, start, std::min(set.size(0), start + block));
    radii.push_back(std::get<0>(torch::cdist(rows, set).kthvalue(k + 1, 1)));
  }
  return torch::cat(radii);
}

// The share of `points` within the radius of at least one row of `balls`.
double share_covered(const torch::Tensor& points, const torch::Tensor& balls, const torch::Tensor& radii,
                     int64_t block) {
  int64_t covered = 0;
  for (int64_t start = 0; start < points.size(0); start += block) {
    auto rows = points.slice(0, start, std::min(points.size(0), start + block));
    covered += (torch::cdist(rows, balls) <= radii.unsqueeze(0)).any(1).sum().item<int64_t>();
  }
  return static_cast<double>(covered) / static_cast<double>(points.size(0));
}

}  // namespace

PrecisionRecall precision_recall(const torch::Tensor& reference, const torch::Tensor& candidate, int64_t k,
                                 int64_t block) {
  if (reference.dim() != 2 || candidate.dim() != 2 || reference.size(1) != candidate.size(1))
    throw Error("precision/recall: two (N, D) feature sets of the same D are needed");
  if (reference.size(0) <= k || candidate.size(0) <= k)
    throw Error("precision/recall: each set needs more than k = " + std::to_string(k) + " features");
  auto r = reference.to(torch::kFloat64), c = candidate.to(torch::kFloat64);
  PrecisionRecall out;
  out.precision = share_covered(c, r, knn_radii(r, k, block), block);
  out.recall = share_covered(r, c, knn_radii(c, k, block), block);
  return out;
}

}  // namespace flowlab
