// Generation in batches: which samples each batch covers, and noise that depends only on
// (seed, batch).
#include <gtest/gtest.h>

#include "flowlab/sampling/generation_batches.h"

using namespace flowlab;

TEST(GenerationBatches, OneProcessTakesEveryBatchInOrderTheLastOneShort) {
  auto batches = my_generation_batches(10, 4);
  ASSERT_EQ(batches.size(), 3u);
  int64_t next = 0;
  for (size_t b = 0; b < batches.size(); ++b) {
    EXPECT_EQ(batches[b].index, static_cast<int64_t>(b));
    EXPECT_EQ(batches[b].start, next);
    next += batches[b].count;
  }
  EXPECT_EQ(batches[2].count, 2);
  EXPECT_EQ(next, 10);
  EXPECT_EQ(my_generation_batches(8, 8).size(), 1u);
}

TEST(GenerationBatches, NoiseDependsOnlyOnSeedAndBatchAndReseedsTheSampler) {
  auto batches = my_generation_batches(6, 2);
  auto a = generation_noise(5, batches[1], 3, 4);
  auto after_a = torch::randn({3});  // the sampler's own draws
  auto b = generation_noise(5, batches[1], 3, 4);
  auto after_b = torch::randn({3});
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{2, 3, 4, 4}));
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_TRUE(torch::equal(after_a, after_b));
  EXPECT_FALSE(torch::equal(a, generation_noise(5, batches[2], 3, 4)));
  EXPECT_FALSE(torch::equal(a, generation_noise(6, batches[1], 3, 4)));
  // Batch 0 of seed s draws from a generator seeded with s itself.
  auto gen = at::detail::createCPUGenerator(5);
  EXPECT_TRUE(torch::equal(generation_noise(5, batches[0], 3, 4),
                           torch::randn({2, 3, 4, 4}, gen, torch::TensorOptions())));
}
