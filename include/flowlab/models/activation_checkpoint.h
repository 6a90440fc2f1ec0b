// Gradient checkpointing (model.checkpointing): a block's activations are not kept for the
// backward pass. The forward pass runs the block without recording; the backward pass runs it
// again with recording, under the forward pass's random state (dropout draws the same mask) and
// autocast settings, and backpropagates through that rerun. LibTorch's C++ API has no
// torch.utils.checkpoint; this is its reentrant form as one autograd node per block.
//
// Jets (models/jet.h, MeanFlow's fused JVP pass): the tangent is computed in the forward run and
// never recomputed; the backward rerun computes the value alone. LibTorch's own forward-mode
// tangents (dual tensors) cannot pass through the node while gradients are recorded (the shared
// JVP pass): the config refuses that pairing.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "flowlab/models/jet.h"

namespace flowlab {

using JetBlock = std::function<Jet(const std::vector<Jet>&)>;

// block(inputs), whose weights are `params`. Checkpointed while gradients are recorded and some
// input value or parameter needs one; otherwise the plain call.
Jet checkpointed(const JetBlock& block, const std::vector<Jet>& inputs, const std::vector<torch::Tensor>& params);

// A module's block call (ResBlock, DiTBlock, ...), checkpointed when `on`.
template <class Block>
Jet call_block(bool on, Block block, const Jet& x) {
  if (!on) return block(x);
  return checkpointed([block](const std::vector<Jet>& in) mutable { return block(in[0]); }, {x},
                      block->parameters());
}
template <class Block>
Jet call_block(bool on, Block block, const Jet& x, const Jet& cond) {
  if (!on) return block(x, cond);
  return checkpointed([block](const std::vector<Jet>& in) mutable { return block(in[0], in[1]); }, {x, cond},
                      block->parameters());
}

}  // namespace flowlab
