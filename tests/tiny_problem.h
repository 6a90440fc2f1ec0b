// A tiny class-conditional problem with a known answer: four fixed 8x8 images, one per class,
// and a small TinyUNet config that learns them in a few hundred CPU steps; and a tiny random
// autoencoder file.
#pragma once
#include "flowlab/config.h"
#include "flowlab/data/dataset.h"
#include "flowlab/io/image.h"
#include "flowlab/methods/method.h"
#include "flowlab/recipe.h"
#include "flowlab/training/checkpoint.h"

namespace flowlab::testing {

// Four 8x8 RGB images, one per class, far apart: a half, a stripe, a checker and a corner.
inline torch::Tensor class_images() {
  auto imgs = torch::full({4, 3, 8, 8}, -0.8);
  imgs[0].select(0, 0).slice(1, 0, 4).fill_(0.9);  // red left half
  imgs[1].select(0, 1).slice(0, 2, 6).fill_(0.9);  // green horizontal band
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x)
      if ((y / 2 + x / 2) % 2 == 0) imgs[2][2][y][x] = 0.9;  // blue checker
  imgs[3].slice(1, 4, 8).slice(2, 4, 8).fill_(0.9);      // white lower-right corner
  return imgs;
}

inline Dataset tiny_dataset(int64_t copies) {
  Dataset d;
  d.name = "tiny";
  auto imgs = class_images();
  d.images = float_to_uint8(imgs).repeat({copies, 1, 1, 1});
  d.labels = torch::arange(4, torch::kInt64).repeat({copies});
  d.class_names = {"half", "band", "checker", "corner"};
  return d;
}

inline Config tiny_config(const std::string& output_dir) {
  Config c;
  c.model.base_channels = 16;
  c.model.channel_mults = {1, 2};
  c.model.num_res_blocks = 1;
  c.model.time_embed_dim = 32;
  c.model.num_heads = 2;
  c.model.attention_resolutions = {4};
  c.model.dropout = 0.0;
  c.model.num_classes = 4;
  c.data.image_size = 8;
  c.data.random_flip = "false";
  c.training.batch_size = 32;
  c.training.lr = 2e-3;
  c.training.grad_clip = 1.0;
  c.training.ema_decay = 0.99;
  c.training.log_every = 50;
  c.training.sample_every = 0;
  c.training.checkpoint_every = 100000;
  c.training.threads = 1;  // ctest runs tests two at a time on two cores
  c.training.output_dir = output_dir;
  c.scheduler.min_lr = 2e-4;
  c.sampling.steps = 20;
  c.sampling.cfg_scale = 1.0;
  return c;
}

// tiny_config for MeanFlow: the two-time TinyUNet, sampled in one step.
inline Config tiny_meanflow_config(const std::string& output_dir) {
  auto c = tiny_config(output_dir);
  c.method.name = "meanflow";
  c.model.type = "tiny_unet_meanflow";
  c.sampling.sampler = "meanflow";
  c.sampling.steps = 1;
  return c;
}

// A backbone for `config` with every weight drawn N(0, 0.2) from seed 0 (so the zero-initialised
// output layers are not zero), converted to `dtype`, in eval mode (no dropout).
inline BackbonePtr random_model(const Config& config, torch::Dtype dtype = torch::kFloat32) {
  torch::manual_seed(0);
  auto model = make_backbone(config);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.2);
  model->to(dtype);
  model->eval();
  return model;
}

// (z, v, r, t, y) for a JVP check: two 3x8x8 rows with r < t, drawn from seed 1 in `dtype`.
struct JvpInputs {
  torch::Tensor z, v, r, t, y;
};

inline JvpInputs jvp_inputs(torch::Dtype dtype = torch::kFloat32) {
  torch::manual_seed(1);
  auto opts = torch::TensorOptions().dtype(dtype);
  return {torch::randn({2, 3, 8, 8}, opts), torch::randn({2, 3, 8, 8}, opts), torch::tensor({0.2, 0.1}, opts),
          torch::tensor({0.7, 0.55}, opts), torch::tensor({1, 3}, torch::kInt64)};
}

// The labels of the convergence checks: each class four times, (16,).
inline torch::Tensor class_check_labels() {
  return torch::arange(4, torch::kInt64).repeat_interleave(4);
}

// Samples for class_check_labels() from noise seeded 123, and the per-pixel MSE of each to each
// class image: (16, 4).
inline torch::Tensor class_image_distances(Method& method, Backbone& model, const SamplingConfig& sampling) {
  torch::manual_seed(123);
  auto samples = method.sample(model, torch::randn({16, 3, 8, 8}), class_check_labels(), sampling).x;
  return (samples.unsqueeze(1) - class_images().unsqueeze(0)).pow(2).mean({2, 3, 4});
}

// A method that records the images and labels each training step passes it, then defers to
// `inner`.
class RecordingMethod : public Method {
 public:
  explicit RecordingMethod(MethodPtr inner) : inner_(std::move(inner)) {}
  std::string name() const override { return inner_->name(); }
  LossOutput loss(Network& model, const torch::Tensor& x, const torch::Tensor& y,
                  StepRandom& rng) override {
    images.push_back(x.cpu().clone());
    labels.push_back(y.cpu().clone());
    return inner_->loss(model, x, y, rng);
  }
  SampleOutput sample(Backbone& model, const torch::Tensor& noise, const torch::Tensor& y,
                      const SamplingConfig& s, const StepHook& hook) override {
    return inner_->sample(model, noise, y, s, hook);
  }
  std::vector<torch::Tensor> images, labels;

 private:
  MethodPtr inner_;
};

// A random 2x autoencoder (8 channels, mults [1, 2]) for image_size x image_size RGB images, as
// DIR/vae.safetensors (whose path it returns).
inline std::string write_tiny_autoencoder(const std::string& dir, int image_size, double scaling_factor = 0.18215) {
  Config c;
  c.model.type = "autoencoder_kl";
  c.method.name = "vae";
  c.data.image_size = image_size;
  c.vae.ch = 8;
  c.vae.ch_mult = {1, 2};
  c.vae.num_res_blocks = 1;
  c.vae.norm_groups = 4;
  c.vae.scaling_factor = scaling_factor;
  torch::manual_seed(0);
  auto vae = make_network(c);
  auto path = dir + "/vae.safetensors";
  export_weights_safetensors(path, *vae, c);
  return path;
}

}  // namespace flowlab::testing
