#include "flowlab/dist/world.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "flowlab/error.h"

#if defined(FLOWLAB_HAVE_GLOO) || defined(FLOWLAB_HAVE_NCCL)
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef FLOWLAB_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef FLOWLAB_HAVE_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace flowlab::dist {

bool multi_process_supported(torch::DeviceType device) {
#ifdef FLOWLAB_HAVE_GLOO
  return true;
#elif defined(FLOWLAB_HAVE_NCCL)
  return device == torch::kCUDA;
#else
  (void)device;
  return false;
#endif
}

#if defined(FLOWLAB_HAVE_GLOO) || defined(FLOWLAB_HAVE_NCCL)

struct World::Group {
  c10::intrusive_ptr<c10d::Store> store;
#ifdef FLOWLAB_HAVE_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
#ifdef FLOWLAB_HAVE_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif

  // start() launches one collective (op gets the backend and returns its Work), wait() waits for
  // it; any failure of either becomes one Error line that says what most likely happened.
  template <typename Op>
  c10::intrusive_ptr<c10d::Work> start(const World& w, const char* what, Op op) {
    try {
#ifdef FLOWLAB_HAVE_NCCL
      if (nccl) return op(*nccl);
#endif
#ifdef FLOWLAB_HAVE_GLOO
      return op(*gloo);
#else
      throw Error("no process group");
#endif
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw failure(w, what, e);
    }
  }
  void wait(const World& w, const char* what, const c10::intrusive_ptr<c10d::Work>& work) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      throw failure(w, what, e);
    }
  }
  static Error failure(const World& w, const char* what, const std::exception& e) {
    return Error("rank " + std::to_string(w.rank()) + " of " + std::to_string(w.size()) + ": " +
                 what + " failed (" + one_line_message(e) +
                 "): another process of the job died or stopped responding; distributed.timeout "
                 "bounds the wait");
  }
};

World::World() = default;
World::~World() = default;

void World::join(const LaunchEnv& env, torch::DeviceType device, std::chrono::milliseconds timeout) {
  if (env.world_size <= 1) return;
  if (!multi_process_supported(device))
    throw Error("this build of flowlab has no c10d backend for " + c10::DeviceTypeName(device, true) +
                " processes (CPU needs Gloo: build against Debian's libtorch-dev with libgloo-dev); "
                "WORLD_SIZE / SLURM_NTASKS = " + std::to_string(env.world_size));
  env_ = env;
  device_ = device;
  timeout_ = timeout;
  group_ = std::make_unique<Group>();
  std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  auto unmet = [&](const std::exception& e) {
    group_.reset();
    env_ = LaunchEnv{};
    return Error("rank " + std::to_string(env.rank) + ": could not meet the other " +
                 std::to_string(env.world_size - 1) + " processes at " + where + " within " +
                 std::to_string(timeout.count() / 1000) + " s (" + one_line_message(e) +
                 "). Check that every rank was started, MASTER_ADDR names rank 0's machine and "
                 "MASTER_PORT is free");
  };
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(env.master_port);
    options.isServer = env.rank == 0 && !env.agent_store;
    options.numWorkers = env.agent_store ? c10::nullopt : c10::optional<std::size_t>(env.world_size);
    options.waitWorkers = !env.agent_store;
    options.timeout = timeout;
    options.multiTenant = true;
    group_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
    if (env.agent_store)
      group_->store = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + env.restart_count,
                                                             group_->store);
  } catch (const std::exception& e) {
    throw unmet(e);
  }
  try {
    bool made = false;
#ifdef FLOWLAB_HAVE_NCCL
    if (device == torch::kCUDA) {
      c10::cuda::set_device(static_cast<c10::DeviceIndex>(env.local_rank % torch::cuda::device_count()));
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      group_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(group_->store, env.rank,
                                                                 env.world_size, options);
      made = true;
    }
#endif
#ifdef FLOWLAB_HAVE_GLOO
    if (!made) {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
      options->devices.push_back(interface != nullptr
                                     ? c10d::ProcessGroupGloo::createDeviceForInterface(interface)
                                     : c10d::ProcessGroupGloo::createDefaultDevice());
      group_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(group_->store, env.rank,
                                                                 env.world_size, options);
      made = true;
    }
#endif
    if (!made) throw Error("no c10d backend for this device in this build");
  } catch (const std::exception& e) {
    throw unmet(e);
  }
#if defined(FLOWLAB_HAVE_GLOO) && !defined(FLOWLAB_HAVE_NCCL)
  if (device == torch::kCUDA)
    spdlog::warn("this build has no NCCL: CUDA gradients are exchanged through Gloo");
#endif
}

void World::leave() {
  group_.reset();
  env_ = LaunchEnv{};
}

void World::broadcast(const std::vector<torch::Tensor>& tensors, int root) {
  if (size() == 1) return;
  c10d::BroadcastOptions options;
  options.rootRank = root;
  for (const auto& t : tensors) {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> one{t.is_contiguous() ? t : t.contiguous()};
    auto work = group_->start(*this, "broadcast", [&](auto& pg) { return pg.broadcast(one, options); });
    group_->wait(*this, "broadcast", work);
    if (!one[0].is_same(t)) t.copy_(one[0]);
  }
}

void World::allreduce_mean(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes) {
  if (size() == 1 || tensors.empty()) return;
  torch::NoGradGuard no_grad;
  // Consecutive tensors of one dtype and device share a bucket up to bucket_bytes.
  std::vector<std::vector<torch::Tensor>> buckets;
  int64_t filled = 0;
  for (const auto& t : tensors) {
    int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
    bool fits = !buckets.empty() && filled + bytes <= bucket_bytes &&
                buckets.back().front().dtype() == t.dtype() &&
                buckets.back().front().device() == t.device();
    if (!fits) {
      buckets.emplace_back();
      filled = 0;
    }
    buckets.back().push_back(t);
    filled += bytes;
  }
  std::vector<std::vector<torch::Tensor>> flat(buckets.size());
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (size_t b = 0; b < buckets.size(); ++b) {
    std::vector<torch::Tensor> pieces;
    for (const auto& t : buckets[b]) pieces.push_back(t.reshape({-1}));
    flat[b] = {torch::cat(pieces)};
    works.push_back(group_->start(*this, "gradient all-reduce",
                                  [&](auto& pg) { return pg.allreduce(flat[b]); }));
  }
  for (size_t b = 0; b < buckets.size(); ++b) {
    group_->wait(*this, "gradient all-reduce", works[b]);
    flat[b][0].div_(size());
    int64_t offset = 0;
    for (const auto& t : buckets[b]) {
      t.copy_(flat[b][0].slice(0, offset, offset + t.numel()).view_as(t));
      offset += t.numel();
    }
  }
}

torch::Tensor World::gather_rows(const torch::Tensor& local) {
  if (size() == 1) return local.cpu();
  torch::NoGradGuard no_grad;
  auto comm = device_ == torch::kCUDA ? local.device() : torch::Device(torch::kCPU);
  auto allgather = [&](const torch::Tensor& mine) {
    std::vector<std::vector<torch::Tensor>> out(1);
    for (int r = 0; r < size(); ++r) out[0].push_back(torch::empty_like(mine));
    std::vector<torch::Tensor> in{mine};
    auto work = group_->start(*this, "gather", [&](auto& pg) { return pg.allgather(out, in); });
    group_->wait(*this, "gather", work);
    return out[0];
  };
  auto counts = allgather(torch::full({1}, local.size(0), torch::TensorOptions().dtype(torch::kInt64).device(comm)));
  int64_t most = 0;
  for (const auto& c : counts) most = std::max(most, c.item<int64_t>());
  auto shape = local.sizes().vec();
  shape[0] = most;
  auto padded = torch::zeros(shape, local.options().device(comm));
  padded.slice(0, 0, local.size(0)).copy_(local);
  auto parts = allgather(padded);
  std::vector<torch::Tensor> rows;
  for (int r = 0; r < size(); ++r) rows.push_back(parts[r].slice(0, 0, counts[r].item<int64_t>()).cpu());
  return torch::cat(rows);
}

void World::barrier() {
  if (size() == 1) return;
  auto work = group_->start(*this, "barrier", [&](auto& pg) { return pg.barrier(); });
  group_->wait(*this, "barrier", work);
}

#else  // no c10d backend in this build

struct World::Group {};
World::World() = default;
World::~World() = default;
void World::join(const LaunchEnv& env, torch::DeviceType, std::chrono::milliseconds) {
  if (env.world_size > 1)
    throw Error("this build of flowlab has no c10d backend (Gloo or NCCL), so it runs as one "
                "process only; WORLD_SIZE / SLURM_NTASKS = " + std::to_string(env.world_size));
}
void World::leave() {}
void World::broadcast(const std::vector<torch::Tensor>&, int) {}
void World::allreduce_mean(const std::vector<torch::Tensor>&, int64_t) {}
torch::Tensor World::gather_rows(const torch::Tensor& local) { return local.cpu(); }
void World::barrier() {}

#endif

World& world() {
  static World instance;
  return instance;
}

Session::Session(torch::DeviceType device, double timeout_seconds) {
  auto env = launch_env_from_process();
  if (env.world_size <= 1) return;
  world().join(env, device, std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000)));
  // Rank 0 reports; the others say only what goes wrong.
  if (env.rank != 0) {
    spdlog::set_pattern("[%H:%M:%S] [rank " + std::to_string(env.rank) + "] %^%v%$");
    spdlog::set_level(spdlog::level::warn);
  }
  spdlog::info("rank {} of {} (local rank {}, {} at {}:{})", env.rank, env.world_size,
               env.local_rank, env.launcher, env.master_addr, env.master_port);
}

Session::~Session() { world().leave(); }

}  // namespace flowlab::dist
