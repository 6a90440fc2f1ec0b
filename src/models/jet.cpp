#include "flowlab/models/jet.h"

#include <cmath>

#include "flowlab/models/attention.h"
#include "flowlab/models/dual_layers.h"
#include "flowlab/models/embeddings.h"

namespace flowlab::jet {
namespace {

namespace F = torch::nn::functional;

// The tangent of `out` from `rule`, run under no-grad on detached inputs; none when x has none.
Jet with_tangent(torch::Tensor value, const Jet& x, const std::function<torch::Tensor()>& rule) {
  if (!x.has_tangent()) return Jet(std::move(value));
  torch::NoGradGuard no_grad;
  return {std::move(value), rule()};
}

torch::Tensor sum_tangents(const torch::Tensor& a, const torch::Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return a + b;
}

}  // namespace

Jet map(const Jet& x, const std::function<torch::Tensor(const torch::Tensor&)>& f) {
  return with_tangent(f(x.value), x, [&] { return f(x.tangent); });
}

Jet add(const Jet& a, const Jet& b) {
  auto value = a.value + b.value;
  torch::NoGradGuard no_grad;
  return {value, sum_tangents(a.tangent, b.tangent)};
}

Jet mul(const Jet& a, const Jet& b) {
  auto value = a.value * b.value;
  torch::NoGradGuard no_grad;
  torch::Tensor tangent;
  if (a.has_tangent()) tangent = a.tangent * b.value.detach();
  if (b.has_tangent()) tangent = sum_tangents(tangent, a.value.detach() * b.tangent);
  return {value, tangent};
}

Jet cat(const std::vector<Jet>& parts, int64_t dim) {
  std::vector<torch::Tensor> values, tangents;
  bool any = false;
  for (const auto& p : parts) {
    values.push_back(p.value);
    any = any || p.has_tangent();
  }
  auto value = torch::cat(values, dim);
  if (!any) return Jet(value);
  torch::NoGradGuard no_grad;
  for (const auto& p : parts) tangents.push_back(p.has_tangent() ? p.tangent : torch::zeros_like(p.value));
  return {value, torch::cat(tangents, dim)};
}

std::vector<Jet> chunk(const Jet& x, int64_t chunks, int64_t dim) {
  auto values = x.value.chunk(chunks, dim);
  std::vector<torch::Tensor> tangents;
  if (x.has_tangent()) tangents = x.tangent.chunk(chunks, dim);
  std::vector<Jet> out;
  for (size_t i = 0; i < values.size(); ++i)
    out.emplace_back(values[i], x.has_tangent() ? tangents[i] : torch::Tensor());
  return out;
}

Jet conv(torch::nn::Conv2d& conv, const Jet& x) {
  return with_tangent(conv_forward(conv, x.value), x, [&] {
    const auto& o = conv->options;
    return F::conv2d(x.tangent, conv->weight.detach(),
                     F::Conv2dFuncOptions().stride(o.stride()).padding(o.padding()).dilation(o.dilation()).groups(o.groups()));
  });
}

Jet linear(torch::nn::Linear& linear, const Jet& x) {
  return with_tangent(linear_forward(linear, x.value), x,
                      [&] { return at::linear(x.tangent, linear->weight.detach()); });
}

Jet silu(const Jet& x) {
  return with_tangent(torch::silu(x.value), x, [&] {
    auto v = x.value.detach();
    auto s = torch::sigmoid(v);
    return x.tangent * (s * (1 + v * (1 - s)));
  });
}

Jet gelu_tanh(const Jet& x) {
  return with_tangent(torch::gelu(x.value, "tanh"), x, [&] {
    // y = x (1 + tanh u) / 2, u = c (x + 0.044715 x^3), c = sqrt(2 / pi)
    const double c = std::sqrt(2.0 / M_PI);
    auto v = x.value.detach();
    auto th = torch::tanh(c * (v + 0.044715 * v.pow(3)));
    return x.tangent * (0.5 * (1 + th) + 0.5 * v * (1 - th * th) * c * (1 + 3 * 0.044715 * v * v));
  });
}

namespace {

// d/dx of (x - mean) / sqrt(var + eps) over the trailing dims of groups: x, tangent (..., M).
torch::Tensor normalized_tangent(const torch::Tensor& x, const torch::Tensor& tangent, double eps) {
  // The centred x once, its mean square as the variance: LibTorch 1.13's CPU var is several times
  // slower (the profile in BENCHMARKS.md).
  auto xc = x - x.mean(-1, true);
  auto inv_std = (xc.square().mean(-1, true) + eps).rsqrt();
  auto xhat = xc * inv_std;
  auto centred = tangent - tangent.mean(-1, true);
  return (centred - xhat * (xhat * centred).mean(-1, true)) * inv_std;
}

}  // namespace

Jet group_norm(torch::nn::GroupNorm& norm, const Jet& x,
               const std::function<torch::Tensor(const torch::Tensor&)>& normalize) {
  return with_tangent(normalize(x.value), x, [&] {
    const auto& o = norm->options;
    auto v = x.value.detach().to(norm->weight.scalar_type());
    auto t = x.tangent.to(v.scalar_type());
    int64_t n = v.size(0), groups = o.num_groups();
    auto shape = v.sizes().vec();
    auto per_group = normalized_tangent(v.reshape({n, groups, -1}), t.reshape({n, groups, -1}), o.eps())
                         .reshape(shape);
    std::vector<int64_t> channel(shape.size(), 1);
    channel[1] = -1;
    return per_group * norm->weight.detach().view(channel);
  });
}

Jet layer_norm(const Jet& x, double eps) {
  int64_t dim = x.value.size(-1);
  return with_tangent(F::layer_norm(x.value, F::LayerNormFuncOptions({dim}).eps(eps)), x,
                      [&] { return normalized_tangent(x.value.detach(), x.tangent, eps); });
}

Jet dropout(const Jet& x, double p, bool training) {
  if (!training || p == 0.0) return x;
  auto mask = torch::empty_like(x.value, torch::MemoryFormat::Preserve).bernoulli_(1 - p) / (1 - p);
  return with_tangent(x.value * mask, x, [&] { return x.tangent * mask; });
}

Jet attention(const Jet& q, const Jet& k, const Jet& v) {
  auto value = dot_product_attention(q.value, k.value, v.value);
  if (!q.has_tangent() && !k.has_tangent() && !v.has_tangent()) return Jet(value);
  torch::NoGradGuard no_grad;
  auto qv = q.value.detach(), kv = k.value.detach(), vv = v.value.detach();
  double scale = 1.0 / std::sqrt(static_cast<double>(qv.size(-1)));
  auto p = torch::softmax(torch::matmul(qv, kv.transpose(-1, -2)) * scale, -1);
  torch::Tensor scores;  // tangent of q k^T / sqrt(d)
  if (q.has_tangent()) scores = torch::matmul(q.tangent, kv.transpose(-1, -2)) * scale;
  if (k.has_tangent()) scores = sum_tangents(scores, torch::matmul(qv, k.tangent.transpose(-1, -2)) * scale);
  torch::Tensor out;
  if (scores.defined()) {
    auto dp = p * (scores - (p * scores).sum(-1, true));  // softmax's derivative
    out = torch::matmul(dp, vv);
  }
  if (v.has_tangent()) out = sum_tangents(out, torch::matmul(p, v.tangent));
  return {value, out};
}

Jet sinusoidal(const Jet& t, int64_t dim) {
  return with_tangent(sinusoidal_embedding(t.value, dim), t, [&] {
    // d/dt [cos(a) | sin(a)], a = 1000 t f: [-sin(a) | cos(a)] 1000 f t'
    int64_t half = dim / 2;
    auto tv = t.value.detach();
    auto freqs = torch::exp(-std::log(10000.0) * torch::arange(half, tv.options()) / static_cast<double>(half));
    auto args = (tv * 1000.0).unsqueeze(1) * freqs.unsqueeze(0);
    auto rate = 1000.0 * freqs.unsqueeze(0) * t.tangent.unsqueeze(1);
    auto out = torch::cat({-torch::sin(args) * rate, torch::cos(args) * rate}, 1);
    if (dim % 2 == 1) out = torch::cat({out, torch::zeros_like(out.slice(1, 0, 1))}, 1);
    return out;
  });
}

}  // namespace flowlab::jet
