// Lookup in the registries (methods, backbones, datasets): vectors of entries with a `name`.
#pragma once
#include <string>
#include <vector>

#include "flowlab/config.h"

namespace flowlab {

template <class Entry>
std::vector<std::string> entry_names(const std::vector<Entry>& entries) {
  std::vector<std::string> names;
  for (const auto& e : entries) names.push_back(e.name);
  return names;
}

// The entry called `name`; otherwise "config: KEY = NAME: must be one of: ...".
template <class Entry>
const Entry& find_entry(const std::vector<Entry>& entries, const std::string& name, const std::string& key) {
  for (const auto& e : entries)
    if (e.name == name) return e;
  throw not_one_of(key, name, entry_names(entries));
}

}  // namespace flowlab
