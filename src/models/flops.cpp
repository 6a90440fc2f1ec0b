#include "flowlab/models/flops.h"

#include <ATen/record_function.h>
#include <c10/util/ScopeExit.h>

#include <cstring>

#include "flowlab/error.h"

namespace flowlab {
namespace {

constexpr double kNormFlopsPerElement = 5;

thread_local FlopCount* active = nullptr;

double product(c10::IntArrayRef sizes, size_t from = 0) {
  double p = 1;
  for (size_t i = from; i < sizes.size(); ++i) p *= static_cast<double>(sizes[i]);
  return p;
}

c10::IntArrayRef sizes_of(const c10::IValue& v) { return v.toTensor().sizes(); }

// aten::convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)
double convolution_flops(c10::ArrayRef<const c10::IValue> in) {
  auto x = sizes_of(in[0]), w = sizes_of(in[1]);
  bool transposed = in[6].toBool();
  if (transposed) {
    // Every input element meets weight (C_in, C_out / groups, k...): one multiply-add each.
    return 2 * product(x) * product(w, 1);
  }
  auto stride = in[3].toIntVector(), padding = in[4].toIntVector(), dilation = in[5].toIntVector();
  double outputs = static_cast<double>(x[0]) * static_cast<double>(w[0]);  // N x C_out
  for (size_t d = 0; d + 2 < x.size(); ++d) {
    auto pick = [d](const std::vector<int64_t>& v) { return v.size() == 1 ? v[0] : v[d]; };
    int64_t k = w[d + 2];
    int64_t out = (x[d + 2] + 2 * pick(padding) - pick(dilation) * (k - 1) - 1) / pick(stride) + 1;
    outputs *= static_cast<double>(out);
  }
  return 2 * outputs * product(w, 1);  // each output: C_in / groups x k... multiply-adds
}

// Matrix products: (..., n, k) x (..., k, m).
double product_flops(c10::IntArrayRef a, c10::IntArrayRef b) {
  return 2 * product(a) * static_cast<double>(b[b.size() - 1]);
}

// Adds one dispatched operator's FLOPs, by the rule of flops.h, to the active count.
void count_call(const at::RecordFunction& fn) {
  const char* name = fn.name();
  auto in = fn.inputs();
  double matmul = 0, norm = 0;
  if (std::strcmp(name, "aten::convolution") == 0) {
    matmul = convolution_flops(in);
  } else if (std::strcmp(name, "aten::mm") == 0 || std::strcmp(name, "aten::bmm") == 0) {
    matmul = product_flops(sizes_of(in[0]), sizes_of(in[1]));
  } else if (std::strcmp(name, "aten::addmm") == 0 || std::strcmp(name, "aten::baddbmm") == 0) {
    matmul = product_flops(sizes_of(in[1]), sizes_of(in[2]));
  } else if (std::strncmp(name, "aten::_scaled_dot_product_", 26) == 0 && std::strstr(name, "math") == nullptr &&
             std::strstr(name, "backward") == nullptr) {
    // A fused kernel (flash, efficient, cudnn): q (B, H, N, d), k (B, H, M, d): q k^T and p v.
    // (The math fallback is not one: its matrix products are counted as they dispatch.)
    auto q = sizes_of(in[0]), k = sizes_of(in[1]);
    matmul = 2 * 2 * product(q) * static_cast<double>(k[k.size() - 2]);
  } else if (std::strcmp(name, "aten::native_group_norm") == 0 || std::strcmp(name, "aten::native_layer_norm") == 0 ||
             std::strcmp(name, "aten::native_batch_norm") == 0) {
    norm = kNormFlopsPerElement * product(sizes_of(in[0]));
  } else {
    return;
  }
  active->matmul += matmul;
  active->normalisation += norm;
  active->by_op[name] += matmul + norm;
}

std::unique_ptr<at::ObserverContext> on_call(const at::RecordFunction& fn) {
  if (active) count_call(fn);
  return nullptr;
}

}  // namespace

FlopCount& FlopCount::operator+=(const FlopCount& other) {
  matmul += other.matmul;
  normalisation += other.normalisation;
  for (const auto& [op, flops] : other.by_op) by_op[op] += flops;
  return *this;
}

FlopCount FlopCount::scaled(double factor) const {
  FlopCount out;
  out.matmul = matmul * factor;
  out.normalisation = normalisation * factor;
  for (const auto& [op, flops] : by_op) out.by_op[op] = flops * factor;
  return out;
}

FlopCount count_flops(const std::function<void()>& f) {
  if (active) throw Error("count_flops: already counting on this thread");
  FlopCount count;
  active = &count;
  auto handle = at::addThreadLocalCallback(at::RecordFunctionCallback(on_call).needsInputs(true));
  auto stop = c10::make_scope_exit([&] {
    at::removeCallback(handle);
    active = nullptr;
  });
  f();
  return count;
}

FlopCount forward_flops(Backbone& model, int64_t channels, int64_t size) {
  torch::NoGradGuard no_grad;
  auto options = model.parameters().front().options();
  auto x = torch::zeros({1, channels, size, size}, options);
  auto t = torch::full({1}, 0.5, options);
  auto y = torch::zeros({1}, options.dtype(torch::kInt64));
  return count_flops([&] { model.forward(x, t, y); });
}

AutoencoderFlops autoencoder_flops(AutoencoderKL& vae, int64_t channels, int64_t size) {
  torch::NoGradGuard no_grad;
  auto x = torch::zeros({1, channels, size, size}, vae.parameters().front().options());
  AutoencoderFlops out;
  DiagonalGaussian posterior;
  out.encode = count_flops([&] { posterior = vae.encode(x); });
  out.decode = count_flops([&] { vae.decode(posterior.mean); });
  return out;
}

}  // namespace flowlab
