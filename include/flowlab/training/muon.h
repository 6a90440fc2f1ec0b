// Muon (Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural networks";
// training.optimizer: muon): Nesterov momentum whose update of each hidden weight matrix is
// replaced by the nearest semi-orthogonal matrix, found by a Newton-Schulz iteration, and scaled by
// sqrt(max(1, rows / cols)). Convolution kernels (out, in, kh, kw) count as (out, in * kh * kw)
// matrices. The other parameters (embeddings, norms, biases, the first and last layers) take
// AdamW steps within the same optimizer.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "flowlab/models/backbone.h"

namespace flowlab {

// U V^T for g = U S V^T, approximately: `steps` iterations of X <- a X + (b A + c A^2) X with
// A = X X^T and Jordan's quintic coefficients (a, b, c) = (3.4445, -4.7750, 2.0315), from
// X = g / ||g||_F, in fp32 (the reference runs it in bf16 for speed on GPUs). The singular values
// come out in a band around 1 (about 0.7 to 1.2 after 5 steps) instead of at 1: the coefficients
// trade exactness for fast growth of small singular values. g: (rows, cols).
torch::Tensor newton_schulz_orthogonalize(const torch::Tensor& g, int steps = 5);

// The parameters Muon updates: every weight of two or more dimensions, except embedding tables
// and the layers that read the input and write the output (by name: TinyUNet's conv_in and
// out_conv, DiT's patch_embed and final_linear, AutoencoderKL's encoder.conv_in and
// decoder.conv_out); the rest go to AdamW. Both in parameters() order.
struct MuonSplit {
  std::vector<torch::Tensor> matrices, others;
};
MuonSplit split_for_muon(const torch::nn::Module& model);

struct MuonOptions : public torch::optim::OptimizerCloneableOptions<MuonOptions> {
  MuonOptions(double lr = 0.02) : lr_(lr) {}  // NOLINT: LibTorch's options style
  TORCH_ARG(double, lr);
  TORCH_ARG(double, momentum) = 0.95;
  TORCH_ARG(double, weight_decay) = 0.0;  // decoupled: p <- (1 - lr wd) p
  TORCH_ARG(int, ns_steps) = 5;
  double get_lr() const override { return lr(); }
  void set_lr(const double lr) override { this->lr(lr); }
};

// Param group 0: the matrices, with MuonOptions; group 1 (when there are others): AdamW's, with
// AdamWOptions. Setting a group's learning rate sets that part's.
class Muon : public torch::optim::Optimizer {
 public:
  Muon(std::vector<torch::Tensor> matrices, const MuonOptions& muon, std::vector<torch::Tensor> others,
       const torch::optim::AdamWOptions& adamw);

  torch::Tensor step(LossClosure closure = nullptr) override;
  // Momentum buffers and the AdamW part's state; load() refuses another optimizer's state.
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  std::vector<torch::Tensor> momentum_;  // one per matrix, zeros until the first step
  std::unique_ptr<torch::optim::AdamW> adamw_;
};

}  // namespace flowlab
