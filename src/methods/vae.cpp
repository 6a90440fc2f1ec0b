#include "flowlab/methods/vae.h"

#include <torch/csrc/autograd/autograd.h>

#include "flowlab/dist/world.h"
#include "flowlab/error.h"
#include "flowlab/models/autoencoder_kl.h"

namespace flowlab {
namespace detail {

PatchDiscriminatorImpl::PatchDiscriminatorImpl(int64_t in_channels, int64_t channels, int64_t layers) {
  namespace nn = torch::nn;
  auto conv = [](int64_t in, int64_t out, int64_t stride, bool bias) {
    return nn::Conv2d(nn::Conv2dOptions(in, out, 4).stride(stride).padding(1).bias(bias));
  };
  net = nn::Sequential(conv(in_channels, channels, 2, true), nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)));
  int64_t width = channels;
  for (int64_t l = 1; l <= layers; ++l) {
    int64_t next = channels * std::min<int64_t>(int64_t{1} << l, 8);
    net->push_back(conv(width, next, l < layers ? 2 : 1, false));
    net->push_back(nn::BatchNorm2d(next));
    net->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)));
    width = next;
  }
  net->push_back(conv(width, 1, 1, true));
  register_module("net", net);
  // pix2pix's initialisation.
  torch::NoGradGuard no_grad;
  for (auto& p : named_parameters()) {
    if (p.key().find("weight") == std::string::npos) continue;
    if (p.value().dim() == 4) p.value().normal_(0.0, 0.02);
    else p.value().normal_(1.0, 0.02);  // BatchNorm scale
  }
}

}  // namespace detail

namespace {

AutoencoderKL& as_autoencoder(Network& model) {
  auto* vae = dynamic_cast<AutoencoderKL*>(&model);
  if (!vae) throw Error("method vae trains model.type autoencoder_kl, not " + model.type_name());
  return *vae;
}

}  // namespace

VaeMethod::VaeMethod(VaeConfig config, int64_t in_channels, double lr, double beta1, double beta2)
    : config_(std::move(config)) {
  if (!config_.perceptual.empty()) {
    try {
      perceptual_ = std::make_unique<torch::jit::script::Module>(torch::jit::load(config_.perceptual));
    } catch (const std::exception& e) {
      throw Error("vae.perceptual " + config_.perceptual + ": not a TorchScript module (" + one_line_message(e) + ")");
    }
    perceptual_->eval();
  }
  if (config_.disc_weight > 0) {
    disc_ = detail::PatchDiscriminator(in_channels, config_.disc_channels, config_.disc_layers);
    disc_optimizer_ = std::make_unique<torch::optim::AdamW>(
        disc_->parameters(), torch::optim::AdamWOptions(lr).betas({beta1, beta2}).weight_decay(0.0));
  }
}

torch::Tensor VaeMethod::perceptual_distance(const torch::Tensor& x, const torch::Tensor& rec) {
  // Features of both in one batch; a module may return one tensor or a list or tuple of them.
  auto out = perceptual_->forward({torch::cat({x, rec})});
  std::vector<torch::Tensor> features;
  if (out.isTensor()) features.push_back(out.toTensor());
  else if (out.isTuple()) for (const auto& v : out.toTupleRef().elements()) features.push_back(v.toTensor());
  else if (out.isList()) for (const auto& v : out.toListRef()) features.push_back(v.toTensor());
  else throw Error("vae.perceptual " + config_.perceptual + " returns neither a tensor nor a list of tensors");
  auto d = torch::zeros({x.size(0)}, x.options());
  for (const auto& f : features) {
    auto halves = f.chunk(2, 0);
    d = d + (halves[0] - halves[1]).pow(2).flatten(1).mean(1);
  }
  return d;
}

LossOutput VaeMethod::loss(Network& model, const torch::Tensor& x, const torch::Tensor&, StepRandom& rng) {
  auto& vae = as_autoencoder(model);
  auto posterior = vae.encode(x);
  auto rec = vae.decode(posterior.sample(rng));
  auto per_image = (x - rec).abs().sum({1, 2, 3});
  if (perceptual_)
    per_image = per_image + config_.perceptual_weight * static_cast<double>(x[0].numel()) * perceptual_distance(x, rec);
  auto nll = per_image.mean();
  auto kl = posterior.kl().mean();
  LossOutput out;
  out.loss = nll + config_.kl_weight * kl;
  out.metrics["l1"] = (x - rec).abs().mean().detach();
  out.metrics["kl"] = kl.detach();
  real_ = fake_ = torch::Tensor();
  if (gan_on()) {
    disc_->to(x.device());
    auto g_loss = -disc_->forward(rec).mean();
    // LDM's adaptive weight: the GAN term's gradient at the last layer scaled to the NLL's.
    const auto& last = vae.last_layer_weight();
    auto nll_grad = torch::autograd::grad({nll}, {last}, {}, /*retain_graph=*/true)[0];
    auto g_grad = torch::autograd::grad({g_loss}, {last}, {}, /*retain_graph=*/true)[0];
    auto d_weight = (nll_grad.norm() / (g_grad.norm() + 1e-4)).clamp(0.0, 1e4).detach() * config_.disc_weight;
    out.loss = out.loss + d_weight * g_loss;
    out.metrics["g_loss"] = g_loss.detach();
    out.metrics["d_weight"] = d_weight;
    real_ = x.detach();
    fake_ = rec.detach().to(x.scalar_type());  // bf16 under autocast; D trains in fp32
  }
  return out;
}

void VaeMethod::after_step() {
  if (real_.defined()) {
    // Hinge loss (Lim & Ye 2017): D pushes real logits above 1 and fake ones below -1.
    disc_->train();
    disc_optimizer_->zero_grad();
    auto d_loss = 0.5 * (torch::relu(1 - disc_->forward(real_)).mean() + torch::relu(1 + disc_->forward(fake_)).mean());
    d_loss.backward();
    std::vector<torch::Tensor> grads;
    for (const auto& p : disc_->parameters())
      if (p.grad().defined()) grads.push_back(p.grad());
    dist::world().allreduce_mean(grads, 1 << 24);
    disc_optimizer_->step();
    real_ = fake_ = torch::Tensor();
  }
  ++step_;
}

SampleOutput VaeMethod::sample(Backbone&, const torch::Tensor&, const torch::Tensor&, const SamplingConfig&,
                               const StepHook&) {
  throw Error("an autoencoder does not sample: use evaluate_vae, or --vae with a latent model");
}

torch::Tensor VaeMethod::reconstruct(Network& model, const torch::Tensor& x) {
  return as_autoencoder(model).reconstruct(x);
}

void VaeMethod::save_state(torch::serialize::OutputArchive& archive) const {
  archive.write("step", torch::tensor(step_));
  if (disc_) {
    torch::serialize::OutputArchive disc, optimizer;
    disc_->save(disc);
    disc_optimizer_->save(optimizer);
    archive.write("discriminator", disc);
    archive.write("discriminator_optimizer", optimizer);
  }
}

void VaeMethod::load_state(torch::serialize::InputArchive& archive) {
  torch::Tensor step;
  if (archive.try_read("step", step)) step_ = step.item<int64_t>();
  torch::serialize::InputArchive disc, optimizer;
  if (disc_ && archive.try_read("discriminator", disc)) {
    disc_->load(disc);
    if (archive.try_read("discriminator_optimizer", optimizer)) disc_optimizer_->load(optimizer);
  }
}

MethodEntry vae_entry() {
  MethodEntry e;
  e.name = "vae";
  e.samplers = {{"reconstruct", "the autoencoder's reconstruction of its input", 1}};
  e.flags = {{"kl_weight", "vae.kl_weight", "weight of the KL term (LDM: 1e-6)"},
             {"perceptual", "vae.perceptual", "TorchScript feature network for a perceptual term (e.g. an exported LPIPS/VGG)"},
             {"disc_weight", "vae.disc_weight", "PatchGAN weight (0 = none; LDM: 0.5)"},
             {"disc_start", "vae.disc_start", "the step from which the discriminator trains"}};
  e.check = [](const Config& c) {
    if (c.vae.disc_weight > 0 && (c.data.image_size >> c.vae.disc_layers) < 3)
      throw Error("config: vae.disc_layers = " + std::to_string(c.vae.disc_layers) + " halves data.image_size " +
                  std::to_string(c.data.image_size) + " below 3 pixels; use fewer layers");
    // The discriminator trains after each update on the last batch it saw: one micro-batch only.
    if (c.vae.disc_weight > 0 && c.training.accumulate > 1)
      throw Error("config: training.accumulate = " + std::to_string(c.training.accumulate) +
                  " with vae.disc_weight > 0: the discriminator would train on the last micro-batch only; "
                  "use accumulate 1 or no discriminator");
  };
  e.make = [](const Config& c) -> MethodPtr {
    return std::make_unique<VaeMethod>(c.vae, c.model.in_channels, c.training.lr, c.training.beta1, c.training.beta2);
  };
  return e;
}

}  // namespace flowlab
