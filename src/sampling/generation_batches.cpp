#include "flowlab/sampling/generation_batches.h"

#include "flowlab/dist/world.h"
#include "flowlab/error.h"

namespace flowlab {

std::vector<GenerationBatch> my_generation_batches(int64_t n, int64_t batch_size) {
  const auto& world = dist::world();
  int64_t batches = (n + batch_size - 1) / batch_size;
  if (batches < world.size())
    throw Error(std::to_string(n) + " samples in batches of " + std::to_string(batch_size) + " make " +
                std::to_string(batches) + " batches, fewer than the " + std::to_string(world.size()) +
                " processes: lower sampling.batch_size (--batch_size)");
  int64_t first = batches * world.rank() / world.size();
  int64_t end = batches * (world.rank() + 1) / world.size();
  std::vector<GenerationBatch> mine;
  for (int64_t b = first; b < end; ++b)
    mine.push_back({b, b * batch_size, std::min(batch_size, n - b * batch_size)});
  return mine;
}

torch::Tensor generation_noise(uint64_t seed, const GenerationBatch& batch, int64_t channels, int64_t size) {
  // Distinct, reproducible streams per batch; batch 0 of seed s uses the seed itself.
  uint64_t stream = seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(batch.index);
  auto gen = at::detail::createCPUGenerator(stream);
  auto noise = torch::randn({batch.count, channels, size, size}, gen, torch::TensorOptions());
  torch::manual_seed(stream);
  return noise;
}

}  // namespace flowlab
