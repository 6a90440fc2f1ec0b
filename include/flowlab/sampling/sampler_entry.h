// A sampler as its method's registry entry lists it (methods/registry.h): the name
// `sampling.sampler` takes, one line of help, and its network evaluations per step. Each method's
// table of samplers extends this with the function that runs it; `validate()`, `--help` and
// docs/samplers.md read these.
#pragma once
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace flowlab {

struct SamplerInfo {
  std::string name;
  std::string help;      // one line without the NFE, which --help adds from nfe_per_step
  int nfe_per_step = 1;  // 0: adaptive
};

// A method's table entry: the info and the function `Run` that samples.
template <class Run>
struct SamplerEntry : SamplerInfo {
  SamplerEntry(SamplerInfo info, Run run_fn) : SamplerInfo(std::move(info)), run(std::move(run_fn)) {}
  Run run;
};

// What a method's registry entry keeps of its table of samplers (entries extending SamplerInfo).
template <class Entry>
std::vector<SamplerInfo> sampler_infos(const std::vector<Entry>& entries) {
  return {entries.begin(), entries.end()};
}

// "  name      help\n" for each entry with a `name` and a `help` (time grids, SDE forms), as
// --help prints them.
template <class Entry>
std::string help_lines(const std::vector<Entry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    std::string name = "  " + e.name;
    name.resize(std::max<size_t>(name.size() + 1, 12), ' ');
    out += name + e.help + "\n";
  }
  return out;
}

// The same for samplers, each line ending in its NFE per step.
inline std::string help_lines(const std::vector<SamplerInfo>& samplers) {
  std::string out;
  for (const auto& s : samplers) {
    std::string name = "  " + s.name;
    name.resize(std::max<size_t>(name.size() + 1, 12), ' ');
    out += name + s.help +
           (s.nfe_per_step > 0 ? ", " + std::to_string(s.nfe_per_step) + " NFE per step" : ", adaptive NFE") + "\n";
  }
  return out;
}

}  // namespace flowlab
