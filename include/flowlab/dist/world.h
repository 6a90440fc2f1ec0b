// The processes of one job and the collectives flowlab needs between them, on PyTorch's c10d:
// ProcessGroupGloo on CPU, ProcessGroupNCCL in CUDA builds. A single process (no launcher
// variables) is a world of size 1 in which every collective is a no-op.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "flowlab/dist/launch_env.h"

namespace flowlab::dist {

class World {
 public:
  World();
  ~World();

  int rank() const { return env_.rank; }
  int size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  bool is_main() const { return env_.rank == 0; }
  const LaunchEnv& env() const { return env_; }

  // Joins the job: a TCPStore at MASTER_ADDR:MASTER_PORT (rank 0 hosts it unless torchrun's agent
  // does), then the process group. `timeout` bounds the rendezvous and every collective: a rank
  // that died or hangs makes the others throw Error instead of waiting for ever.
  void join(const LaunchEnv& env, torch::DeviceType device, std::chrono::milliseconds timeout);
  // Leaves the job (the process group's threads and sockets); size() is 1 again.
  void leave();

  // Rank `root`'s values, in place, on every rank.
  void broadcast(const std::vector<torch::Tensor>& tensors, int root = 0);
  // The mean over ranks, in place. Tensors are flattened into buckets of about bucket_bytes, one
  // all-reduce per bucket, all in flight at once.
  void allreduce_mean(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes);
  // Every rank's rows (dim 0) concatenated in rank order, on every rank, on the CPU. Ranks may
  // hold different numbers of rows; the other dimensions must agree.
  torch::Tensor gather_rows(const torch::Tensor& local);
  void barrier();

 private:
  struct Group;
  LaunchEnv env_;
  torch::DeviceType device_ = torch::kCPU;
  std::chrono::milliseconds timeout_{0};
  std::unique_ptr<Group> group_;
};

// The process's world: size 1 until join().
World& world();

// Joins the job the launcher variables describe (nothing when there are none) and leaves it when
// destroyed. Commands hold one for their whole run.
class Session {
 public:
  Session(torch::DeviceType device, double timeout_seconds);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
};

// Whether this build can run several processes on `device`: CPU processes need c10d's Gloo, CUDA
// processes NCCL or Gloo. (A pip torch ships no Gloo headers, so a build against it has NCCL only.)
bool multi_process_supported(torch::DeviceType device = torch::kCPU);

}  // namespace flowlab::dist
