// Animated GIF files (generate_samples --gif): the frames of a sampling run, from noise to image,
// through Debian's giflib. Each frame gets its own palette of at most 256 colours (giflib's
// median-cut quantizer; grey images keep every level). Built without giflib, write_gif throws.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace flowlab {

// Throws Error when this build has no giflib, before any work.
void check_gif_available();

// frames: uint8 (C, H, W), C in {1, 3}, all of one size. Shown `delay_cs` hundredths of a second
// each (the last frame `last_delay_cs`), looping forever; written atomically.
void write_gif(const std::string& path, const std::vector<torch::Tensor>& frames, int delay_cs = 20,
               int last_delay_cs = 150);

}  // namespace flowlab
