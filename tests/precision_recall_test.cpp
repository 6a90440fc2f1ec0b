// Improved precision and recall: their closed-form cases, and a brute-force count of every pair
// on small random sets (the definition, written out with loops).
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "flowlab/eval/precision_recall.h"
#include "test_helpers.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

// The k-th nearest neighbour radii and coverage, one distance at a time.
double brute_force_share(const torch::Tensor& points, const torch::Tensor& balls, int64_t k) {
  auto distance = [](const torch::Tensor& a, const torch::Tensor& b) { return (a - b).norm().item<double>(); };
  std::vector<double> radius(balls.size(0));
  for (int64_t i = 0; i < balls.size(0); ++i) {
    std::vector<double> d;
    for (int64_t j = 0; j < balls.size(0); ++j)
      if (j != i) d.push_back(distance(balls[i], balls[j]));
    std::sort(d.begin(), d.end());
    radius[i] = d[k - 1];
  }
  int64_t covered = 0;
  for (int64_t p = 0; p < points.size(0); ++p)
    for (int64_t i = 0; i < balls.size(0); ++i)
      if (distance(points[p], balls[i]) <= radius[i]) {
        ++covered;
        break;
      }
  return static_cast<double>(covered) / static_cast<double>(points.size(0));
}

}  // namespace

TEST(PrecisionRecall, ClosedFormsAndTheDefinitionCountedPairByPair) {
  torch::manual_seed(0);
  auto a = torch::randn({40, 5}, torch::kFloat64);
  // The same set: every point lies in its own ball.
  auto same = precision_recall(a, a);
  EXPECT_EQ(same.precision, 1.0);
  EXPECT_EQ(same.recall, 1.0);
  // Two clusters far apart: no point of one lies in a ball of the other.
  auto far = precision_recall(a, a + 100.0);
  EXPECT_EQ(far.precision, 0.0);
  EXPECT_EQ(far.recall, 0.0);
  // A shifted, wider candidate set: blocked rows give the brute-force count.
  auto b = torch::randn({30, 5}, torch::kFloat64) * 1.5 + 0.7;
  for (int64_t block : {7, 1000}) {  // row blocks that split the sets, and one that does not
    auto pr = precision_recall(a, b, 3, block);
    EXPECT_DOUBLE_EQ(pr.precision, brute_force_share(b, a, 3)) << block;
    EXPECT_DOUBLE_EQ(pr.recall, brute_force_share(a, b, 3)) << block;
  }
  auto pr = precision_recall(a, b);
  EXPECT_GT(pr.precision, 0.0);
  EXPECT_LT(pr.precision, 1.0);
  EXPECT_NE(error_of([&] { precision_recall(a.slice(0, 0, 3), b); }).find("more than k = 3"), std::string::npos);
  EXPECT_NE(error_of([&] { precision_recall(a, torch::zeros({10, 4})); }).find("same D"), std::string::npos);
}
