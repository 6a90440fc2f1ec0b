#include "flowlab/training/adamw_update.h"

#include <algorithm>
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

DeviceScalarAdamW::DeviceScalarAdamW(torch::optim::AdamW& optimizer) {
  torch::NoGradGuard no_grad;
  for (auto& group : optimizer.param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    if (options.amsgrad()) throw Error("compute.cuda_graphs: AdamW with amsgrad is not supported");
    if (group.params().empty()) continue;
    const auto on = torch::TensorOptions().dtype(torch::kFloat32).device(group.params().front().device());
    Group g{std::get<0>(options.betas()), std::get<1>(options.betas()), options.eps(), options.weight_decay(), {},
            torch::ones({}, on), torch::ones({}, on), torch::zeros({}, on)};
    for (const auto& p : group.params()) {
      auto& entry = state_entry(optimizer.state(), p);
      if (!entry) {
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        entry = std::move(fresh);
      }
      auto* state = static_cast<torch::optim::AdamWParamState*>(entry.get());
      g.slots.push_back({p, state->exp_avg(), state->exp_avg_sq(), state});
    }
    groups_.push_back(std::move(g));
  }
}

void DeviceScalarAdamW::prepare(double lr) {
  for (auto& g : groups_) {
    int64_t step = 0;
    for (auto& slot : g.slots) {
      slot.state->step(slot.state->step() + 1);
      step = std::max(step, slot.state->step());
    }
    g.shrink.fill_(1.0 - lr * g.weight_decay);
    g.root_bias2.fill_(std::sqrt(1.0 - std::pow(g.beta2, static_cast<double>(step))));
    g.neg_step.fill_(-lr / (1.0 - std::pow(g.beta1, static_cast<double>(step))));
  }
}

void DeviceScalarAdamW::update() {
  torch::NoGradGuard no_grad;
  for (auto& g : groups_) {
    for (auto& slot : g.slots) {
      const auto& grad = slot.param.grad();
      if (!grad.defined()) continue;
      if (g.weight_decay != 0) slot.param.mul_(g.shrink);
      slot.exp_avg.mul_(g.beta1).add_(grad, 1 - g.beta1);
      slot.exp_avg_sq.mul_(g.beta2).addcmul_(grad, grad, 1 - g.beta2);
      // p - lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps), written as p + m / (denominator / -step).
      auto denominator = slot.exp_avg_sq.sqrt().div_(g.root_bias2).add_(g.eps).div_(g.neg_step);
      slot.param.addcdiv_(slot.exp_avg, denominator);
    }
  }
}

}  // namespace flowlab
