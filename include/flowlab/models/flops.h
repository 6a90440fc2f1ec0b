// FLOP accounting: what a network's forward pass costs, counted from the shape of every operation
// it dispatches.
//
// The rule: 2 FLOPs per multiply-add of every convolution (transposed ones too) and every matrix
// product (mm, addmm, bmm, baddbmm; a fused attention kernel's two products), bias additions not
// included. Normalisation (group, layer and batch norm) is counted apart, at 5 FLOPs per
// normalised element (mean, variance, normalise, scale, shift). Elementwise operations,
// activations, softmax and embeddings lookups are not counted.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>

#include "flowlab/models/autoencoder_kl.h"
#include "flowlab/models/backbone.h"

namespace flowlab {

struct FlopCount {
  double matmul = 0;         // convolutions and matrix products
  double normalisation = 0;  // counted apart
  std::map<std::string, double> by_op;  // matmul and normalisation FLOPs by ATen operator
  FlopCount& operator+=(const FlopCount& other);
  FlopCount scaled(double factor) const;
};

// What f() dispatches on this thread, counted by the rule above. Nested calls count once each.
FlopCount count_flops(const std::function<void()>& f);

// One image of channels x size x size through the denoiser (t = 0.5, the first class), without
// gradients.
FlopCount forward_flops(Backbone& model, int64_t channels, int64_t size);

// One image through the autoencoder's encoder (to the posterior) and decoder (from its mean).
struct AutoencoderFlops {
  FlopCount encode, decode;
};
AutoencoderFlops autoencoder_flops(AutoencoderKL& vae, int64_t channels, int64_t size);

}  // namespace flowlab
