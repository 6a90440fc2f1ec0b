// The Inception Score against torch-fidelity's computation (scripts/fixtures/make_fid_fixtures.py) and its
// closed forms, and the split shuffle against numpy's permutation.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "flowlab/eval/inception_score.h"
#include "test_helpers.h"

using namespace flowlab;
using namespace flowlab::testing;

TEST(InceptionScore, ShuffleIsNumpysPermutation) {
  // numpy.random.RandomState(2020).permutation(n), printed by numpy 1.24.
  EXPECT_EQ(numpy_permutation(10, 2020), (std::vector<int64_t>{2, 4, 9, 1, 5, 7, 6, 3, 8, 0}));
  auto long_one = numpy_permutation(50000, 2020);
  EXPECT_EQ(std::vector<int64_t>(long_one.begin(), long_one.begin() + 8),
            (std::vector<int64_t>{24397, 39273, 6546, 13504, 49765, 31361, 27741, 47758}));
  EXPECT_EQ(std::vector<int64_t>(long_one.end() - 8, long_one.end()),
            (std::vector<int64_t>{20039, 32387, 1661, 18523, 44739, 47734, 40259, 41824}));
}

TEST(InceptionScore, MatchesTorchFidelitysComputation) {
  std::ifstream f(std::string(FLOWLAB_FIXTURES_DIR) + "/fid_golden.json");
  auto golden = nlohmann::json::parse(f)["inception_score"];
  std::vector<double> flat;
  for (const auto& row : golden["logits"])
    for (double v : row) flat.push_back(v);
  auto logits = torch::tensor(flat, torch::kFloat64).reshape({static_cast<int64_t>(golden["logits"].size()), -1});
  auto score = inception_score(logits);
  EXPECT_NEAR(score.mean, golden["mean"].get<double>(), 1e-9);
  EXPECT_NEAR(score.std, golden["std"].get<double>(), 1e-9);
  EXPECT_EQ(score.splits, 10);
  // Without the shuffle the splits hold other rows: a different std shows the shuffle matters.
  EXPECT_GT(std::abs(inception_score(logits, 10, false).std - score.std), 1e-3);
}

TEST(InceptionScore, ClosedForms) {
  // Confident predictions spread evenly over K classes in every split: IS = K, with no spread.
  const int64_t classes = 5;
  auto labels = torch::arange(100, torch::kInt64) % classes;
  auto confident = 60 * torch::nn::functional::one_hot(labels, 8).to(torch::kFloat64);
  auto even = inception_score(confident, 10, false);
  EXPECT_NEAR(even.mean, classes, 1e-9);
  EXPECT_NEAR(even.std, 0, 1e-9);
  // The same prediction for every image: p(y|x) = p(y), IS = 1.
  auto same = inception_score(torch::randn({1, 8}, torch::kFloat64).expand({40, 8}));
  EXPECT_NEAR(same.mean, 1, 1e-12);
  // Too few images for the splits is one clear error.
  auto message = error_of([&] { inception_score(torch::zeros({9, 8})); });
  EXPECT_NE(message.find("at least 10 images"), std::string::npos) << message;
}
