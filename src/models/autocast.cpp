#include "flowlab/models/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace flowlab {
namespace {

// LibTorch 2.4 replaced the per-device functions by ones taking the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(c10::DeviceType d) { return at::autocast::is_autocast_enabled(d); }
void set_autocast_enabled(c10::DeviceType d, bool on) { at::autocast::set_autocast_enabled(d, on); }
at::ScalarType autocast_dtype(c10::DeviceType d) { return at::autocast::get_autocast_dtype(d); }
void set_autocast_dtype(c10::DeviceType d, at::ScalarType t) { at::autocast::set_autocast_dtype(d, t); }
#else
bool autocast_enabled(c10::DeviceType d) {
  return d == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_autocast_enabled(c10::DeviceType d, bool on) {
  if (d == c10::DeviceType::CUDA)
    at::autocast::set_enabled(on);
  else
    at::autocast::set_cpu_enabled(on);
}
at::ScalarType autocast_dtype(c10::DeviceType d) {
  return d == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype()
                                    : at::autocast::get_autocast_cpu_dtype();
}
void set_autocast_dtype(c10::DeviceType d, at::ScalarType t) {
  if (d == c10::DeviceType::CUDA)
    at::autocast::set_autocast_gpu_dtype(t);
  else
    at::autocast::set_autocast_cpu_dtype(t);
}
#endif

}  // namespace

AutocastScope::AutocastScope(c10::DeviceType device_type, const std::string& precision)
    : active_(precision == "bf16"), device_type_(device_type) {
  if (!active_) return;
  was_enabled_ = autocast_enabled(device_type_);
  previous_dtype_ = autocast_dtype(device_type_);
  set_autocast_enabled(device_type_, true);
  set_autocast_dtype(device_type_, at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_enabled(device_type_, was_enabled_);
  set_autocast_dtype(device_type_, previous_dtype_);
}

FullPrecisionScope::FullPrecisionScope()
    : cpu_was_enabled_(autocast_enabled(c10::DeviceType::CPU)),
      cuda_was_enabled_(autocast_enabled(c10::DeviceType::CUDA)) {
  set_autocast_enabled(c10::DeviceType::CPU, false);
  set_autocast_enabled(c10::DeviceType::CUDA, false);
}

FullPrecisionScope::~FullPrecisionScope() {
  set_autocast_enabled(c10::DeviceType::CPU, cpu_was_enabled_);
  set_autocast_enabled(c10::DeviceType::CUDA, cuda_was_enabled_);
}

AutocastState AutocastState::current() {
  return {autocast_enabled(c10::DeviceType::CPU), autocast_enabled(c10::DeviceType::CUDA),
          autocast_dtype(c10::DeviceType::CPU), autocast_dtype(c10::DeviceType::CUDA)};
}

namespace {
void set_state(const AutocastState& s) {
  set_autocast_enabled(c10::DeviceType::CPU, s.cpu_enabled);
  set_autocast_enabled(c10::DeviceType::CUDA, s.cuda_enabled);
  set_autocast_dtype(c10::DeviceType::CPU, s.cpu_dtype);
  set_autocast_dtype(c10::DeviceType::CUDA, s.cuda_dtype);
}
}  // namespace

RestoredAutocast::RestoredAutocast(const AutocastState& state) : previous_(AutocastState::current()) {
  set_state(state);
  at::autocast::increment_nesting();
}

RestoredAutocast::~RestoredAutocast() {
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_state(previous_);
}

}  // namespace flowlab
