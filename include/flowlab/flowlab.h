// flowlab's public API, for programs that link the library (find_package(flowlab CONFIG),
// target_link_libraries(app PRIVATE flowlab::flowlab); docs/library.md).
//
// Stable: this header and flowlab/error.h. Every other header under flowlab/ is the library's own
// and may change between versions.
//
// Images cross the API as uint8 tensors (N, C, H, W) in [0, 255] on the CPU. Every bad input and
// every unreadable file throws flowlab::Error with a one-line message, as the programs print it.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "flowlab/error.h"

namespace flowlab {

// How to sample; each field left at its default keeps the checkpoint's own setting.
struct GenerateOptions {
  std::string sampler;     // e.g. "euler", "heun", "rk45" (CFM), "ddim" (DDPM), "meanflow"
  int steps = 0;           // solver steps; 0: the checkpoint's
  double cfg_scale = -1;   // classifier-free guidance; 1 = none; < 0: the checkpoint's
  int64_t batch_size = 0;  // images per network batch; 0: the checkpoint's
  uint64_t seed = 0;       // batch b's noise comes from (seed, b), as generate_samples --seed
  // Instead of the seed's noise: float (N, C, H, W) standard normal in the model's space (a latent
  // model's latents). Undefined: from the seed.
  torch::Tensor noise;
};

// A checkpoint opened for generation: trained or imported, pixel or latent (decoded through the
// autoencoder it records), CFM, DDPM or MeanFlow.
class Model {
 public:
  // device: "cpu" or "cuda"; ema: the first EMA's weights (false: the raw weights).
  explicit Model(const std::string& checkpoint, const std::string& device = "cpu", bool ema = true);
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  int64_t num_classes() const;  // 0 for an unconditional model
  int64_t channels() const;     // of its images
  int64_t image_size() const;   // its images' side, in pixels
  const std::vector<std::string>& class_names() const;
  std::string method() const;   // "cfm", "ddpm" or "meanflow"

  // One image per label: int64 (N,), each a class 0 .. num_classes() - 1, or num_classes() for
  // no class (unguided). Returns uint8 (N, channels(), image_size(), image_size()).
  torch::Tensor generate(const torch::Tensor& labels, const GenerateOptions& options = {}) const;

  // Fills the unknown pixels of `images` (uint8 (N, C, H, W) of the model's size): `known` is
  // (H, W), (1, H, W) or (N, 1, H, W), nonzero where a pixel is kept. Labels as for generate().
  // The known pixels come back unchanged.
  torch::Tensor inpaint(const torch::Tensor& images, const torch::Tensor& known, const torch::Tensor& labels,
                        const GenerateOptions& options = {}) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// An autoencoder from any file the programs take: a train_vae checkpoint, or a diffusers or
// Stable Diffusion .safetensors (with its config.json beside it).
class Autoencoder {
 public:
  explicit Autoencoder(const std::string& path, const std::string& device = "cpu");
  ~Autoencoder();
  Autoencoder(Autoencoder&&) noexcept;
  Autoencoder& operator=(Autoencoder&&) noexcept;

  int64_t downsampling() const;     // image side / latent side
  int64_t latent_channels() const;
  // uint8 images (N, C, H, W) -> float latents (N, latent_channels(), H / d, W / d): posterior
  // means in the scale a latent model sees (times its scaling factor, after its shift).
  torch::Tensor encode(const torch::Tensor& images) const;
  // Latents in that scale -> uint8 images.
  torch::Tensor decode(const torch::Tensor& latents) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Writes uint8 (C, H, W), or (N, C, H, W) as a grid of `per_row` images a row (0: all in one
// row), as a PNG; C is 1 or 3.
void save_png(const std::string& path, const torch::Tensor& images, int64_t per_row = 0);
// Reads a PNG, JPEG or BMP as uint8 (channels, H, W); channels 1 or 3.
torch::Tensor load_image(const std::string& path, int channels = 3);

}  // namespace flowlab
