#include "flowlab/tasks/couplings.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "flowlab/data/couplings.h"
#include "flowlab/dist/world.h"
#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/sampling/generation_batches.h"

namespace flowlab {

CouplingsWritten write_couplings(const SamplingCheckpoint& checkpoint, const torch::Tensor& labels, uint64_t seed,
                                 const std::string& dir, torch::Device device) {
  const auto& config = checkpoint.config;
  const auto& s = config.sampling;
  if (config.method.name != "cfm")
    throw Error("--couplings pairs noise with a flow model's ODE solution (method cfm); this checkpoint holds " +
                config.method.name);
  if (s.sampler == "sde") throw Error("--couplings needs a deterministic sampler; sde draws noise on the way");
  if (!config.model.vae.empty())
    throw Error("--couplings writes pixel models' pairs; this checkpoint is a latent model's");
  CouplingsManifest wanted{checkpoint.reader->path(), s.sampler, s.steps, s.cfg_scale, seed, labels.size(0),
                           s.batch_size, {config.model.in_channels, config.data.image_size, config.data.image_size},
                           checkpoint.reader->class_names()};
  auto& world = dist::world();
  ensure_directory(dir);  // every process: each writes its own parts into it
  if (std::filesystem::exists(std::filesystem::path(dir) / "couplings.json")) {
    if (!read_couplings_manifest(dir).same_request(wanted))
      throw Error(dir + " holds couplings of another request (couplings.json); give a new directory");
  } else if (world.is_main()) {
    write_couplings_manifest(dir, wanted);
  }
  CouplingsWritten out;
  const int64_t parts = wanted.parts();
  for (const auto& batch : my_generation_batches(wanted.num_samples, wanted.batch_size)) {
    if (std::filesystem::exists(couplings_part_path(dir, batch.index))) {
      ++out.kept;
      continue;
    }
    auto noise = generation_noise(seed, batch, wanted.shape[0], wanted.shape[1]).to(device);
    auto y = labels.slice(0, batch.start, batch.start + batch.count).to(device);
    auto sample = checkpoint.method->sample(*checkpoint.model, noise, y, s);
    write_couplings_part(dir, batch.index, noise, sample.x, y);
    ++out.written;
    spdlog::info("couplings part {} of {} ({} pairs)", batch.index + 1, parts, batch.count);
  }
  return out;
}

}  // namespace flowlab
