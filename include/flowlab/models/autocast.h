// Mixed precision for the network's forward passes: LibTorch autocast, which runs convolutions
// and matrix products in a lower precision; which other operators it keeps in fp32 depends on
// LibTorch's per-device lists (TinyUNet normalises in fp32 itself). Parameters and their
// gradients stay fp32. Backward runs outside the scope, as autocast expects.
#pragma once
#include <torch/torch.h>

#include <string>

namespace flowlab {

// Autocast in bfloat16 for tensors of `device_type` while alive ("fp32": does nothing). The
// outermost scope clears autocast's cache of cast weights on exit, so a step after an optimizer
// update never reads stale bf16 copies.
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType device_type, const std::string& precision);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType device_type_;
  bool was_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kFloat;
};

// Autocast off on CPU and CUDA while alive: what runs inside is fp32 even within an
// AutocastScope (MeanFlow's JVP, as in the MeanFlow authors' recipe).
class FullPrecisionScope {
 public:
  FullPrecisionScope();
  ~FullPrecisionScope();
  FullPrecisionScope(const FullPrecisionScope&) = delete;
  FullPrecisionScope& operator=(const FullPrecisionScope&) = delete;

 private:
  bool cpu_was_enabled_;
  bool cuda_was_enabled_;
};

// This thread's autocast settings, to run code later as it runs now (a block recomputed in the
// backward pass: models/activation_checkpoint.h).
struct AutocastState {
  bool cpu_enabled = false, cuda_enabled = false;
  at::ScalarType cpu_dtype = at::kBFloat16, cuda_dtype = at::kHalf;
  static AutocastState current();
};

// `state` while alive, then the settings from before; clears autocast's cache of cast weights on
// exit like the outermost AutocastScope.
class RestoredAutocast {
 public:
  explicit RestoredAutocast(const AutocastState& state);
  ~RestoredAutocast();
  RestoredAutocast(const RestoredAutocast&) = delete;
  RestoredAutocast& operator=(const RestoredAutocast&) = delete;

 private:
  AutocastState previous_;
};

}  // namespace flowlab
