#include "flowlab/step_random.h"

#include "flowlab/error.h"

namespace flowlab {
namespace {

// splitmix64 (Steele, Lea & Flood 2014): decorrelates nearby inputs.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t mix(uint64_t a, uint64_t b) { return mix(mix(a) ^ b); }

}  // namespace

StepRandom::StepRandom(int64_t seed, int64_t step, BatchShard shard)
    : seeded_(true), seed_(static_cast<uint64_t>(seed)), step_(step), shard_(shard) {
  if (shard.rows <= 0 || shard.first < 0 || shard.first + shard.rows > shard.global)
    throw Error("StepRandom: rows [" + std::to_string(shard.first) + ", " +
                std::to_string(shard.first + shard.rows) + ") are not inside a global batch of " +
                std::to_string(shard.global));
}

torch::Tensor StepRandom::draw(int64_t rows, const std::function<torch::Tensor(int64_t)>& make,
                               bool keep_rows) {
  if (!seeded_) return make(rows);
  if (keep_rows && rows != shard_.rows)
    throw Error("StepRandom: asked for " + std::to_string(rows) + " rows, this process has " +
                std::to_string(shard_.rows));
  uint64_t stream = mix(mix(seed_, static_cast<uint64_t>(step_)), draws_++);
  torch::manual_seed(stream);
  auto made = make(keep_rows ? shard_.global : rows);
  // What follows (the network's dropout) draws per process.
  torch::manual_seed(mix(stream, static_cast<uint64_t>(shard_.first) + 1));
  return keep_rows ? made.slice(0, shard_.first, shard_.first + shard_.rows) : made;
}

torch::Tensor StepRandom::rows(int64_t rows, const std::function<torch::Tensor(int64_t)>& make) {
  return draw(rows, make, true);
}

torch::Tensor StepRandom::shared(const std::function<torch::Tensor()>& make) {
  return draw(0, [&](int64_t) { return make(); }, false);
}

torch::Tensor StepRandom::randn_like(const torch::Tensor& x) {
  if (paired_noise_.defined()) {
    if (!paired_noise_.sizes().equals(x.sizes()))
      throw Error("StepRandom: the paired noise has shape " + c10::str(paired_noise_.sizes()) + ", the draw asks for " +
                  c10::str(x.sizes()));
    return paired_noise_.to(x.options());
  }
  return rows(x.size(0), [&](int64_t n) {
    auto shape = x.sizes().vec();
    shape[0] = n;
    return torch::randn(shape, x.options());
  });
}

void StepRandom::seed_default_generators() const {
  if (seeded_) torch::manual_seed(mix(mix(mix(seed_, static_cast<uint64_t>(step_)), ~draws_), shard_.first));
}

StepRandom StepRandom::micro_batch(int64_t k, int64_t count) const {
  if (count < 1 || k < 0 || k >= count || shard_.rows % count != 0)
    throw Error("StepRandom: " + std::to_string(shard_.rows) + " rows do not split into " + std::to_string(count) +
                " micro-batches");
  StepRandom micro = *this;
  int64_t rows = shard_.rows / count;
  micro.shard_ = {shard_.first + k * rows, rows, shard_.global};
  if (paired_noise_.defined()) {
    const int64_t paired = paired_noise_.size(0) / count;
    micro.paired_noise_ = paired_noise_.slice(0, k * paired, (k + 1) * paired);
  }
  return micro;
}

torch::Tensor StepRandom::rand(int64_t rows, const torch::TensorOptions& options) {
  return this->rows(rows, [&](int64_t n) { return torch::rand({n}, options); });
}

}  // namespace flowlab
