// The random draws of one training step (times, noise, label dropout, flips), made so that
// training does not depend on how many processes share the global batch.
//
// Each draw is made for the whole global batch from the default generator seeded by
// (seed, step, draw number), and this process keeps its own rows: N processes together use exactly
// the numbers one process would. After each draw the default generator is reseeded per process,
// so what the network draws itself (dropout masks) differs between processes.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>

namespace flowlab {

// This process's rows of the global batch.
struct BatchShard {
  int64_t first = 0;   // first global row
  int64_t rows = 0;    // rows here
  int64_t global = 0;  // rows in the global batch
};

class StepRandom {
 public:
  // Draws straight from the default generator, for the local rows only (tools and tests that
  // are not a training step).
  StepRandom() = default;
  StepRandom(int64_t seed, int64_t step, BatchShard shard);

  // draw(n) makes n rows; returns this process's `rows` of them.
  torch::Tensor rows(int64_t rows, const std::function<torch::Tensor(int64_t n)>& draw);
  // One draw for the whole step, the same on every process (e.g. a mask type).
  torch::Tensor shared(const std::function<torch::Tensor()>& draw);

  torch::Tensor randn_like(const torch::Tensor& x);                         // (N, ...) normal

  // Couplings (reflow): this process's rows' own noise, which randn_like then returns instead of a
  // draw, for an x of the same shape (micro-batches take their rows of it).
  void pair_noise(const torch::Tensor& noise) { paired_noise_ = noise; }
  torch::Tensor rand(int64_t rows, const torch::TensorOptions& options);    // (N,) uniform [0, 1)

  // Seeds the default generators (the CUDA one included) from (seed, step, this process) for the
  // draws made after this in the step by code that may not reseed them: a captured training step.
  void seed_default_generators() const;

  // The draws of micro-batch k of `count` (training.accumulate): this process's rows split into
  // `count` equal parts, each drawn exactly as this step draws those rows, from here on.
  StepRandom micro_batch(int64_t k, int64_t count) const;

 private:
  torch::Tensor draw(int64_t rows, const std::function<torch::Tensor(int64_t n)>& draw, bool keep_rows);

  bool seeded_ = false;
  uint64_t seed_ = 0;
  int64_t step_ = 0;
  BatchShard shard_;
  uint64_t draws_ = 0;
  torch::Tensor paired_noise_;
};

}  // namespace flowlab
