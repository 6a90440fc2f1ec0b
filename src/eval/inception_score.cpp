#include "flowlab/eval/inception_score.h"

#include <cmath>
#include <random>

#include "flowlab/error.h"

namespace flowlab {

std::vector<int64_t> numpy_permutation(int64_t n, uint32_t seed) {
  if (n < 0 || n > (int64_t(1) << 32)) throw Error("numpy_permutation: n out of range");
  std::mt19937 draws(seed);  // std::mt19937(seed) is MT19937's init_genrand, as numpy's legacy seeding
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  for (int64_t i = n - 1; i >= 1; --i) {
    // A uniform index in [0, i]: 32-bit draws masked to i's bit length, rejected above i.
    uint64_t mask = static_cast<uint64_t>(i);
    for (int shift : {1, 2, 4, 8, 16}) mask |= mask >> shift;
    uint64_t j;
    do j = draws() & mask;
    while (j > static_cast<uint64_t>(i));
    std::swap(order[i], order[j]);
  }
  return order;
}

InceptionScore inception_score(const torch::Tensor& logits, int64_t splits, bool shuffle) {
  if (logits.dim() != 2) throw Error("inception_score: logits must be (N, C)");
  int64_t n = logits.size(0);
  if (splits < 1 || n < splits)
    throw Error("the Inception Score needs at least " + std::to_string(splits) + " images (one per split); got " +
                std::to_string(n));
  auto x = logits.to(torch::kFloat64);
  if (shuffle) x = x.index_select(0, torch::tensor(numpy_permutation(n, 2020), torch::kInt64));
  auto p = x.softmax(1), log_p = x.log_softmax(1);
  std::vector<double> scores;
  for (int64_t i = 0; i < splits; ++i) {
    int64_t begin = i * n / splits, end = (i + 1) * n / splits;
    auto p_split = p.slice(0, begin, end), log_p_split = log_p.slice(0, begin, end);
    auto log_marginal = p_split.mean(0, true).log();
    scores.push_back(std::exp((p_split * (log_p_split - log_marginal)).sum(1).mean().item<double>()));
  }
  InceptionScore out;
  out.splits = splits;
  for (double s : scores) out.mean += s / static_cast<double>(splits);
  for (double s : scores) out.std += (s - out.mean) * (s - out.mean) / static_cast<double>(splits);
  out.std = std::sqrt(out.std);
  return out;
}

}  // namespace flowlab
