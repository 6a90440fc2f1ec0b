#include "flowlab/training/adamw_update.h"

#include <cmath>
#include <sstream>
#include <type_traits>

#include "flowlab/error.h"

namespace flowlab {
namespace {

// The optimizer's state entry of parameter p: LibTorch 1.x keys the map by the TensorImpl
// address as text, 2.x by the address itself.
template <class StateMap>
typename StateMap::mapped_type& state_entry(StateMap& state, const torch::Tensor& p) {
  using Key = typename StateMap::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;
    key << p.unsafeGetTensorImpl();
    return state[key.str()];
  } else {
    return state[static_cast<Key>(p.unsafeGetTensorImpl())];
  }
}

}  // namespace

DeviceScalarAdamW::DeviceScalarAdamW(torch::optim::AdamW& optimizer) : optimizer_(optimizer) {
  torch::NoGradGuard no_grad;
  for (auto& group : optimizer_.param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    if (options.amsgrad()) throw Error("compute.cuda_graphs: AdamW with amsgrad is not supported");
    if (group.params().empty()) continue;
    const auto on = torch::TensorOptions().dtype(torch::kFloat32).device(group.params().front().device());
    scalars_.push_back({torch::ones({}, on), torch::ones({}, on), torch::zeros({}, on)});
    for (const auto& p : group.params()) {
      auto& entry = state_entry(optimizer_.state(), p);
      if (!entry) {
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        entry = std::move(fresh);
      }
      auto* state = static_cast<torch::optim::AdamWParamState*>(entry.get());
      slots_.push_back({p, state->exp_avg(), state->exp_avg_sq(), state, std::get<0>(options.betas()),
                        std::get<1>(options.betas()), options.eps(), options.weight_decay(), scalars_.size() - 1});
    }
  }
}

void DeviceScalarAdamW::prepare(double lr) {
  std::vector<int64_t> group_step(scalars_.size(), 0);
  for (auto& slot : slots_) {
    slot.state->step(slot.state->step() + 1);
    group_step[slot.scalars] = std::max(group_step[slot.scalars], slot.state->step());
  }
  // The scalars of each group from its first slot's hyperparameters (one group: AdamW's).
  std::vector<bool> done(scalars_.size(), false);
  for (const auto& slot : slots_) {
    if (done[slot.scalars]) continue;
    done[slot.scalars] = true;
    const auto step = static_cast<double>(group_step[slot.scalars]);
    auto& s = scalars_[slot.scalars];
    s.shrink.fill_(1.0 - lr * slot.weight_decay);
    s.root_bias2.fill_(std::sqrt(1.0 - std::pow(slot.beta2, step)));
    s.neg_step.fill_(-lr / (1.0 - std::pow(slot.beta1, step)));
  }
}

void DeviceScalarAdamW::update() {
  torch::NoGradGuard no_grad;
  for (auto& slot : slots_) {
    const auto& grad = slot.param.grad();
    if (!grad.defined()) continue;
    const auto& s = scalars_[slot.scalars];
    if (slot.weight_decay != 0) slot.param.mul_(s.shrink);
    slot.exp_avg.mul_(slot.beta1).add_(grad, 1 - slot.beta1);
    slot.exp_avg_sq.mul_(slot.beta2).addcmul_(grad, grad, 1 - slot.beta2);
    // p - lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps), written as p + m / (denominator / -step).
    auto denominator = slot.exp_avg_sq.sqrt().div_(s.root_bias2).add_(slot.eps).div_(s.neg_step);
    slot.param.addcdiv_(slot.exp_avg, denominator);
  }
}

}  // namespace flowlab
