#include "flowlab/training/muon.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "flowlab/error.h"

namespace flowlab {

torch::Tensor newton_schulz_orthogonalize(const torch::Tensor& g, int steps) {
  TORCH_CHECK(g.dim() == 2, "newton_schulz_orthogonalize takes a matrix");
  const double a = 3.4445, b = -4.7750, c = 2.0315;
  const bool tall = g.size(0) > g.size(1);  // iterate on the wide form: A is the smaller square
  auto x = tall ? g.t().to(torch::kFloat32) : g.to(torch::kFloat32);
  x = x / (x.norm() + 1e-7);
  for (int i = 0; i < steps; ++i) {
    auto A = torch::matmul(x, x.t());
    auto B = b * A + c * torch::matmul(A, A);
    x = a * x + torch::matmul(B, x);
  }
  return tall ? x.t() : x;
}

namespace {

// The layers that read the input and write the output, by parameter-name prefix: TinyUNet's,
// DiT's and AutoencoderKL's (models/*.h name them so).
const std::vector<std::string>& input_output_layers() {
  static const std::vector<std::string> prefixes = {"conv_in", "out_conv", "patch_embed", "final_linear",
                                                    "encoder.conv_in", "decoder.conv_out"};
  return prefixes;
}

bool is_input_output_layer(const std::string& name) {
  for (const auto& prefix : input_output_layers())
    if (name.rfind(prefix + ".", 0) == 0) return true;
  return false;
}

}  // namespace

MuonSplit split_for_muon(const torch::nn::Module& model) {
  std::set<std::string> adamw_only;
  for (const auto& m : model.named_modules("", /*include_self=*/false))
    if (m.value()->as<torch::nn::Embedding>()) adamw_only.insert(m.key() + ".weight");
  auto io_layer = [](const std::string& name) { return is_input_output_layer(name); };
  MuonSplit split;
  for (const auto& p : model.named_parameters()) {
    bool matrix = p.value().dim() >= 2 && !adamw_only.count(p.key()) && !io_layer(p.key());
    (matrix ? split.matrices : split.others).push_back(p.value());
  }
  return split;
}

namespace {

std::vector<torch::optim::OptimizerParamGroup> muon_groups(std::vector<torch::Tensor> matrices,
                                                           const MuonOptions& muon,
                                                           std::vector<torch::Tensor> others,
                                                           const torch::optim::AdamWOptions& adamw) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::move(matrices), std::make_unique<MuonOptions>(muon));
  if (!others.empty()) groups.emplace_back(std::move(others), std::make_unique<torch::optim::AdamWOptions>(adamw));
  return groups;
}

}  // namespace

Muon::Muon(std::vector<torch::Tensor> matrices, const MuonOptions& muon, std::vector<torch::Tensor> others,
           const torch::optim::AdamWOptions& adamw)
    : torch::optim::Optimizer(muon_groups(matrices, muon, others, adamw), std::make_unique<MuonOptions>(muon)) {
  if (!others.empty()) adamw_ = std::make_unique<torch::optim::AdamW>(others, adamw);
}

torch::Tensor Muon::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable(true);
    loss = closure();
  }
  auto& group = param_groups_[0];
  const auto& o = static_cast<const MuonOptions&>(group.options());
  auto& params = group.params();
  if (momentum_.empty())
    for (const auto& p : params) momentum_.push_back(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
  for (size_t i = 0; i < params.size(); ++i) {
    auto& p = params[i];
    auto grad = p.grad().defined() ? p.grad() : torch::zeros_like(p);  // every process alike
    momentum_[i].lerp_(grad, 1 - o.momentum());
    auto update = grad.lerp(momentum_[i], o.momentum());  // Nesterov
    auto matrix = update.reshape({update.size(0), -1});
    auto orthogonal = newton_schulz_orthogonalize(matrix, o.ns_steps()) *
                      std::sqrt(std::max(1.0, static_cast<double>(matrix.size(0)) / matrix.size(1)));
    p.mul_(1 - o.lr() * o.weight_decay());
    p.add_(orthogonal.view_as(p).to(p.scalar_type()), -o.lr());
  }
  if (adamw_) {
    adamw_->param_groups()[0].options().set_lr(param_groups_[1].options().get_lr());
    adamw_->step();
  }
  return loss;
}

void Muon::save(torch::serialize::OutputArchive& archive) const {
  archive.write("optimizer_name", c10::IValue(std::string("muon")));
  archive.write("momentum_count", torch::tensor(static_cast<int64_t>(momentum_.size())));
  for (size_t i = 0; i < momentum_.size(); ++i) archive.write("momentum_" + std::to_string(i), momentum_[i]);
  if (adamw_) {
    torch::serialize::OutputArchive adamw;
    adamw_->save(adamw);
    archive.write("adamw", adamw);
  }
}

void Muon::load(torch::serialize::InputArchive& archive) {
  c10::IValue name;
  if (!archive.try_read("optimizer_name", name) || !name.isString() || name.toStringRef() != "muon")
    throw Error("the checkpoint's optimizer state is not Muon's (it was trained with AdamW); resume with "
                "training.optimizer: adamw, or start with --init_from");
  torch::Tensor count;
  archive.read("momentum_count", count);
  const auto n = count.item<int64_t>();
  const auto& params = param_groups_[0].params();
  if (n != 0 && n != static_cast<int64_t>(params.size()))
    throw Error("the checkpoint's Muon state has " + std::to_string(n) + " momentum buffers, this model " +
                std::to_string(params.size()) + " matrices");
  momentum_.clear();
  for (int64_t i = 0; i < n; ++i) {
    torch::Tensor buffer;
    archive.read("momentum_" + std::to_string(i), buffer);
    momentum_.push_back(buffer.to(params[i].device()));
  }
  torch::serialize::InputArchive adamw;
  if (adamw_ && archive.try_read("adamw", adamw)) adamw_->load(adamw);
}

}  // namespace flowlab
