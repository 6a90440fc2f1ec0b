// The public API (flowlab/flowlab.h) over the library's own parts: checkpoints opened for sampling,
// generation, inpainting and the autoencoder.
#include "flowlab/flowlab.h"

#include <c10/util/ScopeExit.h>

#include "flowlab/dist/runtime.h"
#include "flowlab/io/image.h"
#include "flowlab/recipe.h"
#include "flowlab/tasks/generate.h"
#include "flowlab/tasks/inpainting.h"
#include "flowlab/training/autoencoder_file.h"
#include "flowlab/training/sampling_model.h"

namespace flowlab {
namespace {

std::string shape_of(const torch::Tensor& t) {
  return std::string(c10::toString(t.scalar_type())) + " " + c10::str(t.sizes());
}

// The checkpoint's config with `options` on top, checked, for one call.
Config with_options(const Config& base, const GenerateOptions& options) {
  Config config = base;
  auto& s = config.sampling;
  if (!options.sampler.empty()) s.sampler = options.sampler;
  if (options.steps < 0) throw Error("GenerateOptions.steps must be >= 0, got " + std::to_string(options.steps));
  if (options.steps > 0) s.steps = options.steps;
  if (options.cfg_scale >= 0) s.cfg_scale = options.cfg_scale;
  if (options.batch_size < 0) throw Error("GenerateOptions.batch_size must be >= 0");
  if (options.batch_size > 0) s.batch_size = options.batch_size;
  validate(config);
  return config;
}

void check_labels(const torch::Tensor& labels, int64_t num_classes) {
  if (!labels.defined() || labels.scalar_type() != torch::kInt64 || labels.dim() != 1)
    throw Error("labels must be int64 (N,), got " + (labels.defined() ? shape_of(labels) : "none"));
  if (labels.numel() > 0 && (labels.min().item<int64_t>() < 0 || labels.max().item<int64_t>() > num_classes))
    throw Error("labels run from 0 to " + std::to_string(num_classes) + " (the last: no class), got " +
                std::to_string(labels.min().item<int64_t>()) + " to " + std::to_string(labels.max().item<int64_t>()));
}

}  // namespace

struct Model::State {
  SamplingCheckpoint checkpoint;
  torch::Device device = torch::kCPU;
};

Model::Model(const std::string& checkpoint, const std::string& device, bool ema) : state_(std::make_unique<State>()) {
  state_->device = resolve_device(device);
  state_->checkpoint = open_for_sampling(checkpoint);
  if (state_->checkpoint.config.method.name == "vae")
    throw Error(checkpoint + " holds an autoencoder; open it with flowlab::Autoencoder");
  state_->checkpoint.load(WeightChoice{ema, 0}, state_->device);
}

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

int64_t Model::num_classes() const { return state_->checkpoint.model->num_classes(); }

int64_t Model::channels() const {
  const auto& c = state_->checkpoint;
  return c.codec->image_channels(c.config.model.in_channels);
}

int64_t Model::image_size() const {
  const auto& c = state_->checkpoint;
  return c.config.data.image_size * c.codec->downsampling();
}

const std::vector<std::string>& Model::class_names() const { return state_->checkpoint.reader->class_names(); }

std::string Model::method() const { return state_->checkpoint.config.method.name; }

torch::Tensor Model::generate(const torch::Tensor& labels, const GenerateOptions& options) const {
  auto& c = state_->checkpoint;
  check_labels(labels, num_classes());
  const auto& model = c.config.model;
  if (options.noise.defined()) {
    const std::vector<int64_t> shape = {labels.size(0), model.in_channels, c.config.data.image_size,
                                        c.config.data.image_size};
    if (!options.noise.is_floating_point() || options.noise.sizes() != c10::IntArrayRef(shape))
      throw Error("GenerateOptions.noise is " + shape_of(options.noise) + "; the model samples float " +
                  c10::str(c10::IntArrayRef(shape)));
  }
  // This call's options, the checkpoint's own settings back afterwards.
  const Config saved = c.config;
  c.config = with_options(saved, options);
  auto restore = c10::make_scope_exit([&] { c.config = saved; });
  auto noise = options.noise.defined() ? options.noise.to(torch::kFloat32) : options.noise;
  return float_to_uint8(flowlab::generate(c, labels, options.seed, noise, false, state_->device).images);
}

torch::Tensor Model::inpaint(const torch::Tensor& images, const torch::Tensor& known, const torch::Tensor& labels,
                             const GenerateOptions& options) const {
  auto& c = state_->checkpoint;
  const int64_t size = image_size();
  if (!images.defined() || images.scalar_type() != torch::kUInt8 || images.dim() != 4 || images.size(1) != channels() ||
      images.size(2) != size || images.size(3) != size)
    throw Error("images must be uint8 (N, " + std::to_string(channels()) + ", " + std::to_string(size) + ", " +
                std::to_string(size) + "), got " + (images.defined() ? shape_of(images) : "none"));
  const int64_t n = images.size(0);
  check_labels(labels, num_classes());
  if (labels.size(0) != n) throw Error("inpaint: " + std::to_string(n) + " images but " + std::to_string(labels.size(0)) + " labels");
  if (!known.defined() || known.dim() < 2 || known.dim() > 4 || known.size(-1) != size || known.size(-2) != size ||
      (known.dim() >= 3 && known.size(-3) != 1) || (known.dim() == 4 && known.size(0) != n))
    throw Error("known must be (H, W), (1, H, W) or (N, 1, H, W) of the images' size, got " +
                (known.defined() ? shape_of(known) : "none"));
  auto mask = (known != 0).to(torch::kFloat32).reshape({-1, 1, size, size}).expand({n, 1, size, size});
  if (options.noise.defined()) throw Error("inpaint draws its noise from GenerateOptions.seed; leave noise undefined");
  auto config = with_options(c.config, options);
  auto replacement = expand_replacements("auto", config.method.name).front();
  auto gen = at::detail::createCPUGenerator(options.seed);
  torch::manual_seed(options.seed);  // noise drawn inside samplers (DDPM ancestral steps)
  const auto& device = state_->device;
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < n; start += config.sampling.batch_size) {
    int64_t end = std::min<int64_t>(n, start + config.sampling.batch_size);
    parts.push_back(inpaint_batch(*c.method, *c.model, uint8_to_float(images.slice(0, start, end)).to(device),
                                  mask.slice(0, start, end).to(device), labels.slice(0, start, end).to(device), gen,
                                  config.sampling, replacement, *c.codec)
                        .cpu());
  }
  auto out = float_to_uint8(torch::cat(parts));
  auto keep = mask.to(torch::kBool).expand_as(images);
  return torch::where(keep, images, out);  // the known pixels exactly, whatever the rounding
}

struct Autoencoder::State {
  std::shared_ptr<AutoencoderKL> vae;
  torch::Device device = torch::kCPU;
};

Autoencoder::Autoencoder(const std::string& path, const std::string& device) : state_(std::make_unique<State>()) {
  state_->device = resolve_device(device);
  state_->vae = load_autoencoder(path);
  state_->vae->to(state_->device);
  state_->vae->eval();
}

Autoencoder::~Autoencoder() = default;
Autoencoder::Autoencoder(Autoencoder&&) noexcept = default;
Autoencoder& Autoencoder::operator=(Autoencoder&&) noexcept = default;

int64_t Autoencoder::downsampling() const { return state_->vae->options().downsampling(); }

int64_t Autoencoder::latent_channels() const { return state_->vae->options().latent_channels; }

torch::Tensor Autoencoder::encode(const torch::Tensor& images) const {
  const auto& o = state_->vae->options();
  if (!images.defined() || images.scalar_type() != torch::kUInt8 || images.dim() != 4 || images.size(1) != o.in_channels ||
      images.size(2) % o.downsampling() != 0 || images.size(3) % o.downsampling() != 0)
    throw Error("encode takes uint8 (N, " + std::to_string(o.in_channels) + ", H, W) with H and W multiples of " +
                std::to_string(o.downsampling()) + ", got " + (images.defined() ? shape_of(images) : "none"));
  torch::NoGradGuard no_grad;
  auto& vae = *state_->vae;
  return vae.to_latents(vae.encode(uint8_to_float(images).to(state_->device)).mean).cpu();
}

torch::Tensor Autoencoder::decode(const torch::Tensor& latents) const {
  const auto& o = state_->vae->options();
  if (!latents.defined() || !latents.is_floating_point() || latents.dim() != 4 || latents.size(1) != o.latent_channels)
    throw Error("decode takes float (N, " + std::to_string(o.latent_channels) + ", h, w), got " +
                (latents.defined() ? shape_of(latents) : "none"));
  torch::NoGradGuard no_grad;
  auto& vae = *state_->vae;
  return float_to_uint8(vae.decode(vae.from_latents(latents.to(state_->device, torch::kFloat32))).cpu());
}

void save_png(const std::string& path, const torch::Tensor& images, int64_t per_row) {
  if (!images.defined() || images.scalar_type() != torch::kUInt8 || images.dim() < 3 || images.dim() > 4 ||
      (images.size(-3) != 1 && images.size(-3) != 3))
    throw Error("save_png takes uint8 (C, H, W) or (N, C, H, W) with C 1 or 3, got " +
                (images.defined() ? shape_of(images) : "none"));
  if (per_row < 0) throw Error("save_png: per_row must be >= 0");
  if (images.dim() == 3) return write_png(path, images);
  auto n = images.size(0);
  write_png(path, float_to_uint8(make_grid(uint8_to_float(images), per_row > 0 ? per_row : n)));
}

torch::Tensor load_image(const std::string& path, int channels) {
  if (channels != 1 && channels != 3) throw Error("load_image: channels must be 1 or 3, got " + std::to_string(channels));
  return read_image(path, channels);
}

}  // namespace flowlab
