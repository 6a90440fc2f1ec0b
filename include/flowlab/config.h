// Typed configuration: YAML file -> structs with defaults in code -> overrides -> validate().
//
// Every key lives in one section ("training.lr"). Loading, `--set section.key=value`, command-line
// flags and the YAML dump all go through one field table (src/core/config.cpp), so a key is
// declared once with its type and its allowed values.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "flowlab/error.h"

namespace flowlab {

struct ModelConfig {
  std::string type = "tiny_unet";  // backbone registry key
  std::string variant;             // named size, for backbones that have them
  int in_channels = 3;             // taken from the dataset at training time
  int base_channels = 64;
  std::vector<int> channel_mults{1, 2, 4};
  int num_res_blocks = 2;
  int time_embed_dim = 128;
  int num_classes = 10;  // 0 = unconditional; the CFG null label is num_classes
  double dropout = 0.1;
  std::vector<int> attention_resolutions{8};
  int num_heads = 4;  // attention heads (TinyUNet; a DiT sized by hidden_size and depth)
  // A DiT size that is not a named variant (model.variant empty): width, depth and patch size
  // (patch 0 = 2); its heads are model.num_heads. 0 = the named variant's.
  int hidden_size = 0;
  int depth = 0;
  int patch_size = 0;
  // A latent model: the autoencoder whose latents it generates and their map into the model's
  // scale, (z - vae_shift_factor) * vae_scaling_factor. With data.dataset latents all four come
  // from the latent dataset; with an image dataset, vae names the file that encodes the images at
  // the start of training and the other three are recorded from it. Empty vae: a pixel model.
  std::string vae;
  std::string vae_sha256;
  double vae_scaling_factor = 1.0;
  double vae_shift_factor = 0.0;
  std::string time_pair = "t,t-r";  // two-time backbones: t,t-r | r,t
  // A published network's conventions, set by import_checkpoint ("" = flowlab's own; DiT only):
  //   dit:  time in as the DDPM step index 0..999 (flowlab's steps run 1..1000), epsilon out;
  //   sit:  SiT's time 1 - t in (0 = noise), its velocity x - eps out (negated here);
  //   repa: REPA's SiT, flowlab's time unscaled in, velocity eps - x out.
  std::string convention;
  // The last layer also predicts a variance (2 x in_channels outputs, as DiT and SiT release them):
  // DDPM samples with it (ddpm.variance learned_range); flow methods drop it.
  bool learn_sigma = false;
  // Gradient checkpointing: training reruns each residual, attention and transformer block in
  // the backward pass instead of keeping its activations (models/activation_checkpoint.h).
  bool checkpointing = false;
};

struct DataConfig {
  std::string dataset = "shapes";  // cifar10 | mnist | folder | shapes | latents
  std::string data_dir;
  std::string split = "train";  // train | test
  // The side the model sees: a latent model's latent grid (its images are fitted to image_size
  // times the autoencoder's downsampling).
  int image_size = 32;
  std::string fit = "auto";  // auto | pad | resize | crop: how images reach their size
  // auto | true | false: random horizontal flips in training; auto flips every dataset but MNIST,
  // whose digits a mirror would change.
  std::string random_flip = "auto";
  int num_images = 10000;  // shapes only
  int64_t shapes_seed = 0;  // shapes only
};

struct MethodConfig {
  std::string name = "cfm";                // cfm | ddpm | meanflow
  // CFM's time distribution (DDPM draws integer steps uniformly; MeanFlow has its own section).
  std::string time_sampling = "uniform";   // uniform | logit_normal
  double logit_mean = 0.0;
  double logit_std = 1.0;
};

struct DdpmConfig {
  int timesteps = 1000;
  std::string schedule = "cosine";     // cosine | linear
  std::string prediction = "epsilon";  // epsilon | v | x0
  double eta = 0.0;                    // DDIM noise; 0 = deterministic
  bool clip_denoised = true;           // clamp the predicted x0 to [-1, 1] while sampling
  // fixed_small: the posterior variance; learned_range: improved DDPM's interpolation between it
  // and beta_t by the network's variance output (Nichol & Dhariwal 2021, Eq. 15; model.learn_sigma).
  std::string variance = "fixed_small";
};

// MeanFlow (Geng et al. 2025). Defaults: the paper's CIFAR-10 setting as we read its appendix
// (logit-normal(-2, 2) times, 75% of rows with r != t, adaptive-weight power 0.75).
struct MeanFlowConfig {
  double p_mean = -2.0;           // logit-normal location for t and r
  double p_std = 2.0;             // logit-normal scale
  double ratio_r_neq_t = 0.75;    // fraction of rows with r < t; the rest are flow matching
  double adaptive_p = 0.75;       // w = 1 / (||u - u_tgt||^2 + c)^p
  double adaptive_c = 1e-3;
  double guidance_w = 1.0;        // trained-in guidance scale (Sec. 4.2); 1 = off
  double guidance_kappa = 0.0;    // the kappa mixing term of the same section
  // The trained-in guidance only for t in [guidance_t_min, guidance_t_max], plain v elsewhere (as
  // the authors' code; guidance at high noise costs diversity). [0, 1] = everywhere.
  double guidance_t_min = 0.0;
  double guidance_t_max = 1.0;
  // separate: u in a plain forward over all rows, du/dt in LibTorch's forward-mode AD without a
  //   backward graph (the reference; with dropout, u and du/dt see different dropout masks);
  // fused: u with its graph and du/dt carried beside it without one, in one pass (models/jet.h;
  //   one dropout mask; fp32 for the whole pass under bf16 autocast).
  std::string jvp_pass = "separate";
  // u_loss: MeanFlow's regression of u onto u_tgt above, whose JVP runs along the conditional
  //   velocity v = eps - x;
  // v_loss: improved MeanFlow (iMF; Geng, Lu et al. 2025, arXiv 2512.02012): the compound
  //   V = u + (t - r) stopgrad(du/dt) regressed onto v, with the JVP along the network's own
  //   velocity u(z, t, t) instead of v (methods/meanflow.h).
  std::string objective = "u_loss";
  // iMF's guidance as an input: each row draws a CFG scale omega, log-uniform in [omega_min,
  // omega_max], and a guidance interval (t_min uniform in [0, 0.5], t_max in [0.5, 1]; [0, 1] on
  // the rows with r = t), the network is told (omega, t_min, t_max), and it learns the field guided
  // at that omega inside that interval. Sampling then takes any --cfg_scale and --cfg_t_min/max in
  // one network evaluation per step. Replaces guidance_w, kappa and guidance_t_min/max.
  bool guidance_conditioning = false;
  double omega_min = 1.0;
  double omega_max = 8.0;  // the authors' ImageNet setting
};

// The autoencoder (model.type autoencoder_kl, trained by train_vae) and its training objective
// (LDM, Rombach et al. 2022): L1 reconstruction + kl_weight KL(q(z|x) || N(0, I)), plus an optional
// perceptual term and an optional PatchGAN with hinge loss. Defaults: Stable Diffusion's sizes.
struct VaeConfig {
  int ch = 128;                        // width of the first level
  std::vector<int> ch_mult{1, 2, 4, 4};  // level widths = ch * ch_mult; 2^(levels - 1) downsampling
  int num_res_blocks = 2;
  int z_channels = 4;
  int norm_groups = 32;
  double scaling_factor = 0.18215;  // latents = (z - shift_factor) * scaling_factor
  double shift_factor = 0.0;
  double kl_weight = 1e-6;
  // A TorchScript module mapping images in [-1, 1] (N, C, H, W) to features; the term is the mean
  // squared feature difference between image and reconstruction, times perceptual_weight.
  std::string perceptual;
  double perceptual_weight = 1.0;
  double disc_weight = 0.0;   // PatchGAN weight (0 = no discriminator; LDM: 0.5)
  int64_t disc_start = 50001;  // the step from which the discriminator trains and counts
  int disc_layers = 3;
  int disc_channels = 64;
};

struct SchedulerConfig {
  std::string type = "cosine";  // cosine | constant
  double min_lr = 1e-4;
  int64_t warmup_steps = 0;
};

struct TrainingConfig {
  int epochs = 200;
  int64_t steps = 0;  // > 0 overrides epochs
  int batch_size = 128;  // the global batch of one optimizer step
  // Micro-batches per optimizer step (gradient accumulation): each process's rows of the batch
  // split into `accumulate` parts, backpropagated one after another, then one update. The
  // learning-rate schedule, EMA, clipping and the non-finite guard count updates.
  int accumulate = 1;
  // adamw | muon: Muon (training/muon.h) for the hidden layers' weight matrices at muon_lr with
  // momentum muon_momentum, AdamW at lr for the rest (embeddings, norms, biases, the first and
  // last layers). The schedule scales both learning rates alike.
  std::string optimizer = "adamw";
  double muon_lr = 0.02;
  double muon_momentum = 0.95;
  double lr = 3e-4;
  double weight_decay = 0.01;  // decoupled, for AdamW and Muon
  double beta1 = 0.9;
  double beta2 = 0.999;
  double grad_clip = 1.0;  // 0 = off
  // A step whose loss or gradient is not finite is skipped (no update, counted in metrics.jsonl);
  // this many in a row stop the run (0 = never).
  int max_bad_steps = 20;
  double ema_decay = 0.9999;
  // Several EMAs, each kept in the checkpoint and scored by evaluation while training; when given
  // it replaces ema_decay, and its first is the one sampled and exported by default.
  std::vector<double> ema_decays;
  std::vector<double> ema_decay_list() const { return ema_decays.empty() ? std::vector<double>{ema_decay} : ema_decays; }
  bool ema_warmup = true;  // decay = min(ema_decay, (1 + step) / (10 + step))
  double cfg_dropout = 0.1;
  int64_t log_every = 50;
  int64_t sample_every = 1000;  // 0 = off
  // A last grid when training ends (with sample_every > 0): 8 samples per class, up to 16 classes.
  // Drawn only when the run reached at least sample_every steps, so a smoke run ends with its steps.
  bool final_grid = true;
  int64_t checkpoint_every = 1000;
  // Every eval_every steps (and at the last, when the run reached eval_every steps) the EMA model is
  // scored (the eval section) into metrics.jsonl, and best.pt keeps the checkpoint of the lowest
  // FID. 0 = off.
  int64_t eval_every = 0;
  // TensorBoard event files in output_dir/tensorboard: every metrics.jsonl figure as a scalar
  // (train/..., eval/...) and every sample grid as an image.
  bool tensorboard = false;
  int64_t seed = 0;
  std::string device = "cpu";  // cpu | cuda
  int threads = 0;             // 0 = all cores
  std::string output_dir = "outputs/run";
  // Start from these weights (fine-tuning): a checkpoint's EMA weights, or a .safetensors file of
  // the model's parameters by name (weights_ema.safetensors). Not a resume: step, optimizer and
  // learning-rate schedule start fresh. The model section must match the weights'.
  std::string init_from;
};

// Evaluation while training (training.eval_every > 0).
struct EvalConfig {
  int num_samples = 5000;
  // What the samples are scored against, as evaluate_fid --reference takes it: "" = the training
  // set (DATASET-train for cifar10 and mnist, the folder itself for a folder dataset).
  std::string reference;
  std::string sampler;    // "" = sampling.sampler
  int steps = 0;          // 0 = sampling.steps
  double cfg_scale = -1;  // < 0 = sampling.cfg_scale
  bool kid = false;       // KID beside FID
  // pytorch-fid's Inception weights (scripts/pytorch/convert_inception_weights.py): "" =
  // $FLOWLAB_INCEPTION_WEIGHTS or weights/inception_fid.pt; "random" = fixed hashed weights, whose
  // scores only compare runs with each other (smoke tests).
  std::string inception_weights;
};

struct SamplingConfig {
  // One of the method's samplers (its registry entry; generate_samples --help lists them).
  std::string sampler = "euler";
  int steps = 50;
  // The fixed-step flow and MeanFlow samplers' time grid (sampling/time_grids.h: uniform, edm,
  // shift); shift: SD3's s for the shift grid.
  std::string schedule = "uniform";
  double shift = 3.0;
  // The sde sampler's diffusion coefficient, SiT's `diffusion_form` (sampling/sde_sampler.h:
  // sigma, linear, constant, SBDM), times sde_norm (SiT's `diffusion_norm`).
  std::string sde_diffusion = "sigma";
  double sde_norm = 1.0;
  // > 0: the sde sampler's last, noise-free step has this length and the other steps - 1 span
  // [sde_last_step, 1] by the schedule; SiT's and REPA's SDE samplers take 0.04. 0: the
  // schedule's grid, as for the other samplers.
  double sde_last_step = 0.0;
  double cfg_scale = 3.0;
  // CFG only while t is in [cfg_t_min, cfg_t_max] (the guidance interval, Kynkaanniemi et al.
  // 2024); the conditional prediction alone elsewhere. [0, 1] = every step.
  double cfg_t_min = 0.0;
  double cfg_t_max = 1.0;
  // CFG on the first cfg_channels channels of the network's output only, the conditional output on
  // the rest; 0 = every channel. DiT's and SiT's released samplers guide 3 of the 4 latent channels.
  int cfg_channels = 0;
  double rtol = 1e-3;  // rk45
  double atol = 1e-3;  // rk45
  int num_samples = 64;
  int batch_size = 256;
  // DDPM only, RePaint-style resampling (Lugmayr et al. 2022): every resample_jump steps the
  // state is noised back up resample_jump steps and denoised again, resample_repeats times in
  // all (1 = plain sampling).
  int resample_jump = 10;
  int resample_repeats = 1;
};

// Multi-process runs (dist/world.h); a single process ignores this section.
struct DistributedConfig {
  // Seconds a rank waits for the others (rendezvous and every collective) before it stops with an
  // error: a rank that died or hangs never leaves the rest waiting for ever.
  double timeout = 300;
  double bucket_mb = 25;  // gradient all-reduce bucket size
};

// Speed options, each off by default: BENCHMARKS.md measures where each pays.
struct ComputeConfig {
  // bf16: the network's forward passes (training and sampling) run under LibTorch autocast in
  // bfloat16; weights, optimizer state, losses and sampler states stay fp32, and MeanFlow's JVP
  // stays fp32 (models/autocast.h).
  std::string precision = "fp32";  // fp32 | bf16
  bool channels_last = false;      // 4-D weights (convolutions) in channels-last memory format
  // Training: the whole dataset (uint8) is copied to the training device once, so batches are
  // gathered and flipped there instead of copied from host memory every step.
  bool data_on_device = false;
  // CUDA only: the training step, and generate_samples' fixed-step sampling loop, recorded once as
  // a CUDA graph and replayed (cuda_graph.h, training/graphed_step.h). A step with a non-finite
  // loss is then not skipped: the run stops at the next log or checkpoint.
  bool cuda_graphs = false;
};

struct Config {
  ModelConfig model;
  DataConfig data;
  MethodConfig method;
  DdpmConfig ddpm;
  MeanFlowConfig meanflow;
  VaeConfig vae;
  SchedulerConfig scheduler;
  TrainingConfig training;
  EvalConfig eval;
  SamplingConfig sampling;
  DistributedConfig distributed;
  ComputeConfig compute;
};

// Reads YAML over `config`: only the keys present change. Unknown sections or keys and wrong
// types throw Error naming the key.
void apply_config_file(Config& config, const std::string& path);
void apply_config_text(Config& config, const std::string& yaml_text);

// Sets one key from a YAML scalar or sequence text, e.g. set_config_value(c, "training.lr", "1e-4").
void set_config_value(Config& config, const std::string& key, const std::string& value_text);

// Applies "section.key=value".
void apply_override(Config& config, const std::string& assignment);

// Checks every field's range and the cross-field rules that need no registry; throws Error naming
// the key. validate() in recipe.h adds what the named method, backbone and dataset require.
void validate_fields(const Config& config);

// The error "config: KEY = VALUE: must be one of: ..." for a name not in `allowed`.
Error not_one_of(const std::string& key, const std::string& value,
                 const std::vector<std::string>& allowed);

// A command-line flag that sets one config key (--batch_size -> training.batch_size).
struct ConfigFlag {
  std::string flag;  // e.g. "batch_size"
  std::string key;   // e.g. "training.batch_size"
  std::string help;
};

std::string config_to_yaml(const Config& config);

// All keys, "section.key", in declaration order (for --help and error messages).
std::vector<std::string> config_keys();

}  // namespace flowlab
