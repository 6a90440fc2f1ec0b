// Reflow's data (data/couplings.h): a flow model's noise-image pairs, written by
// generate_samples --couplings DIR.
#pragma once
#include <torch/torch.h>

#include <string>

#include "flowlab/training/sampling_model.h"

namespace flowlab {

struct CouplingsWritten {
  int64_t written = 0;  // parts this process made now
  int64_t kept = 0;     // parts this process found already there (a resumed run)
};

// Each generation batch's noise (sampling/generation_batches.h: from seed and batch, as
// generate_samples draws it) and the image the checkpoint's deterministic ODE sampler makes of it
// for `labels` (N,), as a couplings part; parts already in `dir` are kept, so rerunning the same
// command resumes it, and the processes of a job write disjoint parts. The first run writes
// couplings.json; a later one must ask for the same (checkpoint, sampler, steps, scale, seed,
// count, batch). Refused in one line: a method other than CFM, the stochastic sde sampler, a
// latent model.
CouplingsWritten write_couplings(const SamplingCheckpoint& checkpoint, const torch::Tensor& labels, uint64_t seed,
                                 const std::string& dir, torch::Device device);

}  // namespace flowlab
