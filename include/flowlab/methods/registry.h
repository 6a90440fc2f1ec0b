// Methods by name (method.name; each training program fixes its own): each one's entry owns its
// samplers, its defaults, its config rules and its factory.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "flowlab/config.h"
#include "flowlab/methods/method.h"
#include "flowlab/sampling/sampler_entry.h"

namespace flowlab {

struct MethodEntry {
  std::string name;
  // The samplers its models take (sampling.sampler), each with a help line; the first is the
  // default. The method's own table (e.g. flow_samplers()) holds the functions that run them.
  std::vector<SamplerInfo> samplers;
  int default_steps = 0;              // sampling.steps with the default sampler (0: the recipe's)
  bool two_time = false;              // trains u(z, r, t): the backbone's two-time form
  bool resamples = false;             // sampling.resample_repeats (RePaint's resampling) applies
  bool per_pixel_loss = false;        // inpainting fine-tuning can train it
  std::string inpaint_replacement = "noised";  // inpaint's default --replacement
  std::vector<ConfigFlag> flags;               // its training program's own flags
  std::function<void(const Config&)> check;    // its own rules (may be empty); throws Error naming keys
  std::function<MethodPtr(const Config&)> make;  // in full precision
};

const std::vector<MethodEntry>& method_entries();
// Throws "config: method.name = NAME: must be one of: ...".
const MethodEntry& method_entry(const std::string& name);
std::vector<std::string> method_names();
// The names of its samplers, the default first.
std::vector<std::string> sampler_names(const MethodEntry& method);

// The method of config.method.name; under compute.precision = bf16 its network passes run in
// bf16 autocast on training.device (methods/mixed_precision.h).
MethodPtr make_method(const Config& config);

}  // namespace flowlab
