// Time and class embeddings shared by every backbone.
#pragma once
#include <torch/torch.h>

#include <string>

#include "flowlab/models/jet.h"

namespace flowlab {

// t: (N,) in [0, 1] -> (N, dim) sinusoidal features [cos | sin] of 1000 t, frequencies
// exp(-ln(max_period) k / (dim/2)) (Vaswani et al. 2017; DDPM / DiT timestep embedding).
// Scaling by 1000 keeps the frequency range of the usual integer-step embeddings.
torch::Tensor sinusoidal_embedding(const torch::Tensor& t, int64_t dim, double max_period = 10000.0);

namespace detail {

// Sinusoidal features -> Linear -> SiLU -> Linear. Parameters "mlp.0.*", "mlp.2.*" as in DiT.
class TimestepEmbedderImpl : public torch::nn::Module {
 public:
  TimestepEmbedderImpl(int64_t frequency_dim, int64_t out_dim);
  // t: (N,) -> (N, out_dim); with t's tangent, the embedding's (models/jet.h).
  Jet forward(const Jet& t);
  // The last linear layer's weight and bias to zero: the embedding is 0 for every t.
  void zero_output_layer();

 private:
  int64_t frequency_dim_;
  torch::nn::Sequential mlp{nullptr};        // Linear, SiLU, Linear: weights mlp.0.*, mlp.2.*
  torch::nn::Linear first{nullptr}, second{nullptr};  // mlp's two linear layers
};
TORCH_MODULE(TimestepEmbedder);

// Improved MeanFlow's guidance inputs (meanflow.guidance_conditioning; arXiv 2512.02012): the CFG
// scale omega and the guidance interval [t_min, t_max] the network is told, each through its own
// timestep embedder (omega as omega - 1, so no guidance embeds as 0), summed. The authors' DiT
// reads them as in-context tokens; flowlab adds them to the conditioning vector, as it does the
// class, in TinyUNet and DiT alike. The output layers start at zero: a network given these inputs
// starts as the same network without them.
class GuidanceEmbedderImpl : public torch::nn::Module {
 public:
  GuidanceEmbedderImpl(int64_t frequency_dim, int64_t out_dim);
  // guidance: (N, 3) [omega, t_min, t_max] -> (N, out_dim).
  torch::Tensor forward(const torch::Tensor& guidance);
  // Every output layer to zero: the embedding is 0 for all inputs.
  void zero_output_layers();

 private:
  TimestepEmbedder omega{nullptr}, interval_start{nullptr}, interval_end{nullptr};
};
TORCH_MODULE(GuidanceEmbedder);

// (rows, 3) [1, 0, 1]: no guidance, on the whole time range.
torch::Tensor unguided_inputs(int64_t rows, const torch::TensorOptions& options);

// Two-time backbones (MeanFlow's u(z, r, t)) take a time pair: "" = one time; "t,t-r" embeds t and
// t - r with two embedders (Geng et al. 2025); "r,t" embeds r and t with the one time embedder.
// Throws for any other value.
void check_time_pair(const std::string& time_pair);
// The embedding the second time adds to the conditioning: time_embed(r) for "r,t",
// interval_embed(t - r) for "t,t-r". r, t: (N,); r carries no tangent (MeanFlow's JVP holds r).
Jet second_time_embedding(const std::string& time_pair, TimestepEmbedder& time_embed,
                          TimestepEmbedder& interval_embed, const torch::Tensor& r, const Jet& t);

}  // namespace detail
}  // namespace flowlab
