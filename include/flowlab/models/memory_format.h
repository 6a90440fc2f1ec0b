// compute.channels_last: convolution weights in channels-last (NHWC) memory format, so oneDNN and
// cuDNN pick their NHWC kernels and the activations they produce stay NHWC. Shapes and values
// are unchanged; loading a checkpoint replaces a parameter's layout, so call this after loading.
#pragma once
#include <torch/torch.h>

namespace flowlab {

// Every 4-D parameter of `module` (and its submodules) to channels-last.
void to_channels_last(torch::nn::Module& module);

}  // namespace flowlab
