// Where this process sits in a multi-process job, read from the variables launchers set:
// torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), SLURM's srun (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID) or a user exporting the torchrun names by hand.
#pragma once
#include <functional>
#include <optional>
#include <string>

namespace flowlab::dist {

struct LaunchEnv {
  int rank = 0;
  int world_size = 1;  // 1 = a single process, no process group
  int local_rank = 0;  // rank on this machine: picks the GPU
  int local_world_size = 1;  // processes on this machine: share its cores
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // torchrun's agent already hosts the TCPStore on MASTER_ADDR:MASTER_PORT; every rank is a client
  // and keys live under /worker/attempt_<restart_count>.
  bool agent_store = false;
  std::string restart_count = "0";
  std::string launcher;  // "torchrun", "slurm", "environment" or "" (one process)
};

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Throws Error naming the variable for values that are not integers, out of range or
// inconsistent (RANK without WORLD_SIZE, RANK >= WORLD_SIZE, a port outside 1..65535).
LaunchEnv launch_env(const EnvLookup& lookup);
LaunchEnv launch_env_from_process();

}  // namespace flowlab::dist
