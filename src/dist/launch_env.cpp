#include "flowlab/dist/launch_env.h"

#include <cstdlib>

#include "flowlab/error.h"

namespace flowlab::dist {
namespace {

int parse_int(const EnvLookup& lookup, const std::string& name, int fallback, int min, int max) {
  auto text = lookup(name);
  if (!text) return fallback;
  size_t used = 0;
  long value = 0;
  try {
    value = std::stol(*text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text->size() || value < min || value > max)
    throw Error("environment variable " + name + "='" + *text + "' must be an integer in " +
                std::to_string(min) + ".." + std::to_string(max));
  return static_cast<int>(value);
}

}  // namespace

LaunchEnv launch_env(const EnvLookup& lookup) {
  LaunchEnv env;
  const int kMaxRanks = 1 << 20;
  if (lookup("RANK") || lookup("WORLD_SIZE")) {
    if (!lookup("RANK") || !lookup("WORLD_SIZE"))
      throw Error(std::string("environment variable ") + (lookup("RANK") ? "RANK" : "WORLD_SIZE") +
                  " is set but " + (lookup("RANK") ? "WORLD_SIZE" : "RANK") +
                  " is not; a multi-process run needs both (torchrun sets them)");
    env.world_size = parse_int(lookup, "WORLD_SIZE", 1, 1, kMaxRanks);
    env.rank = parse_int(lookup, "RANK", 0, 0, kMaxRanks);
    env.local_rank = parse_int(lookup, "LOCAL_RANK", env.rank, 0, kMaxRanks);
    env.local_world_size = parse_int(lookup, "LOCAL_WORLD_SIZE", env.world_size, 1, kMaxRanks);
    env.launcher = lookup("TORCHELASTIC_RUN_ID") ? "torchrun" : "environment";
  } else if (lookup("SLURM_PROCID") && lookup("SLURM_NTASKS")) {
    env.world_size = parse_int(lookup, "SLURM_NTASKS", 1, 1, kMaxRanks);
    env.rank = parse_int(lookup, "SLURM_PROCID", 0, 0, kMaxRanks);
    env.local_rank = parse_int(lookup, "SLURM_LOCALID", 0, 0, kMaxRanks);
    env.local_world_size = parse_int(lookup, "SLURM_NTASKS_PER_NODE", env.world_size, 1, kMaxRanks);
    env.launcher = "slurm";
  }
  if (env.world_size == 1) return LaunchEnv{};
  if (env.rank >= env.world_size)
    throw Error("rank " + std::to_string(env.rank) + " is not below the world size " +
                std::to_string(env.world_size) + " (RANK / SLURM_PROCID must be 0..N-1)");
  if (auto addr = lookup("MASTER_ADDR")) env.master_addr = *addr;
  if (env.master_addr.empty()) throw Error("environment variable MASTER_ADDR is empty");
  env.master_port = parse_int(lookup, "MASTER_PORT", env.master_port, 1, 65535);
  env.agent_store = lookup("TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True";
  env.restart_count = lookup("TORCHELASTIC_RESTART_COUNT").value_or("0");
  return env;
}

LaunchEnv launch_env_from_process() {
  return launch_env([](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  });
}

}  // namespace flowlab::dist
