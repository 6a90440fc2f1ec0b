// Inception Score (Salimans et al. 2016) as torch-fidelity computes it: the softmax of the 1008-way
// logits without the classifier's bias (its "logits_unbiased", as the original TensorFlow code),
// in float64; rows shuffled by numpy's RandomState(2020).permutation(N); 10 splits of rows
// [i N / s, (i + 1) N / s); per split exp(mean_x KL(p(y|x) || p_split(y))); the mean and the
// population standard deviation over the splits.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace flowlab {

struct InceptionScore {
  double mean = 0, std = 0;
  int64_t splits = 0;
};

// logits: (N, C), N >= splits.
InceptionScore inception_score(const torch::Tensor& logits, int64_t splits = 10, bool shuffle = true);

// numpy.random.RandomState(seed).permutation(n), element for element: MT19937 seeded as numpy
// seeds it from an integer, and numpy's legacy Fisher-Yates shuffle with masked rejection draws.
std::vector<int64_t> numpy_permutation(int64_t n, uint32_t seed);

}  // namespace flowlab
