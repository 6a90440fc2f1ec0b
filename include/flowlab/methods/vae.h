// train_vae's objective for an AutoencoderKL (LDM, Rombach et al. 2022; taming-transformers'
// LPIPSWithDiscriminator), per image and averaged over the batch:
//   sum over pixels of |x - x_rec|  (+ perceptual_weight * C*H*W * mean squared feature difference)
//   + kl_weight * KL(q(z | x) || N(0, I))
//   + d_weight * disc_weight * (-mean D(x_rec))     from step disc_start, when disc_weight > 0,
// with LDM's adaptive d_weight = |grad nll| / (|grad GAN| + 1e-4) at the decoder's last layer
// (clamped to [0, 1e4]). The PatchGAN D (pix2pix, Isola et al. 2017) trains with the hinge loss
// after each step, with its own AdamW; it and the step count are the method's checkpointed state.
#pragma once
#include <torch/script.h>

#include "flowlab/config.h"
#include "flowlab/methods/method.h"
#include "flowlab/methods/registry.h"

namespace flowlab {

namespace detail {

// PatchGAN: 4x4 convolutions, stride 2 `layers` times then stride 1 twice, BatchNorm and
// LeakyReLU(0.2) between: one logit per patch.
class PatchDiscriminatorImpl : public torch::nn::Module {
 public:
  PatchDiscriminatorImpl(int64_t in_channels, int64_t channels, int64_t layers);
  torch::Tensor forward(const torch::Tensor& x) { return net->forward(x); }

 private:
  torch::nn::Sequential net{nullptr};
};
TORCH_MODULE(PatchDiscriminator);

}  // namespace detail

class VaeMethod : public Method {
 public:
  // in_channels: the images' channels.
  VaeMethod(VaeConfig config, int64_t in_channels, double lr, double beta1, double beta2);
  std::string name() const override { return "vae"; }
  // metrics: l1 (mean absolute error per value), kl (per image); with the GAN on, g_loss and d_weight.
  LossOutput loss(Network& model, const torch::Tensor& x, const torch::Tensor& y, StepRandom& rng) override;
  // An autoencoder does not sample: throws.
  SampleOutput sample(Backbone& model, const torch::Tensor& noise, const torch::Tensor& y,
                      const SamplingConfig& sampling, const StepHook& hook = nullptr) override;
  torch::Tensor reconstruct(Network& model, const torch::Tensor& x) override;

  void after_step() override;
  bool has_state() const override { return true; }
  void save_state(torch::serialize::OutputArchive& archive) const override;
  void load_state(torch::serialize::InputArchive& archive) override;

 private:
  bool gan_on() const { return config_.disc_weight > 0 && step_ >= config_.disc_start; }
  torch::Tensor perceptual_distance(const torch::Tensor& x, const torch::Tensor& rec);

  VaeConfig config_;
  int64_t step_ = 0;  // steps taken, for disc_start
  std::unique_ptr<torch::jit::script::Module> perceptual_;
  detail::PatchDiscriminator disc_{nullptr};
  std::unique_ptr<torch::optim::AdamW> disc_optimizer_;
  torch::Tensor real_, fake_;  // this step's images and (detached) reconstructions, for D
};

// method.name vae: trains model.type autoencoder_kl (train_vae).
MethodEntry vae_entry();

}  // namespace flowlab
