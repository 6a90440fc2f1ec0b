#include "flowlab/models/embeddings.h"

#include <cmath>

namespace flowlab {

torch::Tensor sinusoidal_embedding(const torch::Tensor& t, int64_t dim, double max_period) {
  int64_t half = dim / 2;
  auto dtype = t.is_floating_point() ? t.scalar_type() : torch::kFloat32;
  auto freqs = torch::exp(-std::log(max_period) * torch::arange(half, t.options().dtype(dtype)) /
                          static_cast<double>(half));
  auto args = (t.to(dtype) * 1000.0).unsqueeze(1) * freqs.unsqueeze(0);
  auto emb = torch::cat({torch::cos(args), torch::sin(args)}, 1);
  if (dim % 2 == 1) emb = torch::cat({emb, torch::zeros_like(emb.slice(1, 0, 1))}, 1);
  return emb;
}

namespace detail {

TimestepEmbedderImpl::TimestepEmbedderImpl(int64_t frequency_dim, int64_t out_dim)
    : frequency_dim_(frequency_dim) {
  first = torch::nn::Linear(frequency_dim, out_dim);
  second = torch::nn::Linear(out_dim, out_dim);
  mlp = register_module("mlp", torch::nn::Sequential(first, torch::nn::SiLU(), second));
}

Jet TimestepEmbedderImpl::forward(const Jet& t) {
  return jet::linear(second, jet::silu(jet::linear(first, jet::sinusoidal(t, frequency_dim_))));
}

void TimestepEmbedderImpl::zero_output_layer() {
  torch::NoGradGuard no_grad;
  second->weight.zero_();
  second->bias.zero_();
}

GuidanceEmbedderImpl::GuidanceEmbedderImpl(int64_t frequency_dim, int64_t out_dim) {
  omega = register_module("omega", TimestepEmbedder(frequency_dim, out_dim));
  interval_start = register_module("interval_start", TimestepEmbedder(frequency_dim, out_dim));
  interval_end = register_module("interval_end", TimestepEmbedder(frequency_dim, out_dim));
  zero_output_layers();
}

void GuidanceEmbedderImpl::zero_output_layers() {
  for (auto* embedder : {&omega, &interval_start, &interval_end}) (*embedder)->zero_output_layer();
}

torch::Tensor GuidanceEmbedderImpl::forward(const torch::Tensor& guidance) {
  return omega(Jet(guidance.select(1, 0) - 1.0)).value + interval_start(Jet(guidance.select(1, 1))).value +
         interval_end(Jet(guidance.select(1, 2))).value;
}

torch::Tensor unguided_inputs(int64_t rows, const torch::TensorOptions& options) {
  return torch::tensor({1.0f, 0.0f, 1.0f}, options.dtype(torch::kFloat32)).repeat({rows, 1});
}

void check_time_pair(const std::string& time_pair) {
  TORCH_CHECK(time_pair.empty() || time_pair == "t,t-r" || time_pair == "r,t",
              "model.time_pair must be t,t-r or r,t, got ", time_pair);
}

Jet second_time_embedding(const std::string& time_pair, TimestepEmbedder& time_embed,
                          TimestepEmbedder& interval_embed, const torch::Tensor& r, const Jet& t) {
  return time_pair == "r,t" ? time_embed(Jet(r)) : interval_embed(Jet(t.value - r, t.tangent));
}

}  // namespace detail
}  // namespace flowlab
