// Reflow couplings (Liu, Gong & Liu 2023, "Flow straight and fast", arXiv 2209.03003): pairs of
// noise and the image a flow model's ODE sampler makes of it. CFM trained on them (data.dataset
// couplings) regresses the straight line between the two, so its paths straighten and fewer
// steps suffice; k rounds are k such generate-then-train cycles.
//
//   DIR/couplings.json   what made them, written first:
//       {"format": "flowlab-couplings", "version": 1, "checkpoint", "sampler", "steps",
//        "cfg_scale", "seed", "num_samples", "batch_size", "shape": [c, h, w], "class_names"}
//   DIR/part-BBBBB.npz   generation batch B (samples [B batch_size, ...)): "noise" and "images",
//       float32 (n, c, h, w), the images in the model's space and unclamped; "labels" int64 (n,).
//       Each part is written atomically, so a run that stops resumes at the parts it lacks, and
//       the processes of a job write disjoint parts.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "flowlab/data/dataset.h"

namespace flowlab {

struct CouplingsManifest {
  std::string checkpoint, sampler;
  int64_t steps = 0;
  double cfg_scale = 1.0;
  uint64_t seed = 0;
  int64_t num_samples = 0, batch_size = 0;
  std::vector<int64_t> shape;  // (c, h, w)
  std::vector<std::string> class_names;

  int64_t parts() const { return (num_samples + batch_size - 1) / batch_size; }
  bool same_request(const CouplingsManifest& other) const;
};

void write_couplings_manifest(const std::string& dir, const CouplingsManifest& manifest);
// Throws Error naming the file on anything malformed.
CouplingsManifest read_couplings_manifest(const std::string& dir);
std::string couplings_part_path(const std::string& dir, int64_t part);
void write_couplings_part(const std::string& dir, int64_t part, const torch::Tensor& noise,
                          const torch::Tensor& images, const torch::Tensor& labels);

// Every part as a dataset: `images` the ODE endpoints (float32, the model's space), `noise` their
// noise. Throws Error for a missing or misshapen part (an unfinished generation: rerun it).
Dataset load_couplings(const std::string& dir);

}  // namespace flowlab
