#include "flowlab/models/activation_checkpoint.h"

#include <torch/csrc/autograd/autograd.h>

#include "flowlab/models/autocast.h"

namespace flowlab {
namespace {

// The default generators' states, set again while a block reruns and then put back.
struct RandomState {
  std::vector<at::Generator> generators;
  std::vector<torch::Tensor> states;

  explicit RandomState(torch::Device device) {
    generators.push_back(at::detail::getDefaultCPUGenerator());
    if (!device.is_cpu()) generators.push_back(at::globalContext().defaultGenerator(device));
    for (auto& g : generators) states.push_back(g.get_state());
  }
};

class RestoredRandomState {
 public:
  explicit RestoredRandomState(RandomState& saved) : saved_(saved) {
    for (size_t i = 0; i < saved_.generators.size(); ++i) {
      previous_.push_back(saved_.generators[i].get_state());
      saved_.generators[i].set_state(saved_.states[i]);
    }
  }
  ~RestoredRandomState() {
    for (size_t i = 0; i < saved_.generators.size(); ++i) saved_.generators[i].set_state(previous_[i]);
  }

 private:
  RandomState& saved_;
  std::vector<torch::Tensor> previous_;
};

// What the backward rerun needs besides the saved input values.
struct BlockRun : torch::CustomClassHolder {
  JetBlock block;
  std::vector<torch::Tensor> input_tangents;
  std::vector<bool> input_needs_grad;
  std::vector<torch::Tensor> params;  // the block's weights, the node's inputs after the values
  RandomState random;
  AutocastState autocast = AutocastState::current();
  torch::Tensor output_tangent;  // from the forward run

  BlockRun(JetBlock b, torch::Device device) : block(std::move(b)), random(device) {}
};

class CheckpointedBlock : public torch::autograd::Function<CheckpointedBlock> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, torch::TensorList values,
                                                torch::TensorList /*params: for autograd*/,
                                                const c10::intrusive_ptr<BlockRun>& run) {
    std::vector<Jet> inputs;
    for (size_t i = 0; i < values.size(); ++i) inputs.emplace_back(values[i], run->input_tangents[i]);
    auto out = run->block(inputs);  // not recorded: Function::apply runs forward without grad
    run->output_tangent = out.tangent;
    ctx->save_for_backward(values.vec());
    ctx->saved_data["run"] = c10::IValue::make_capsule(run);
    return {out.value};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto holder = ctx->saved_data["run"].toCapsule();
    auto* run = static_cast<BlockRun*>(holder.get());
    const auto values = ctx->get_saved_variables();
    std::vector<Jet> inputs;
    std::vector<torch::Tensor> leaves;  // what needs a gradient: inputs, then parameters
    for (size_t i = 0; i < values.size(); ++i) {
      auto x = values[i].detach().requires_grad_(run->input_needs_grad[i]);
      inputs.emplace_back(x);
      if (run->input_needs_grad[i]) leaves.push_back(x);
    }
    for (const auto& p : run->params)
      if (p.requires_grad()) leaves.push_back(p);
    torch::Tensor value;
    {
      RestoredRandomState random(run->random);
      RestoredAutocast autocast(run->autocast);
      torch::AutoGradMode recording(true);
      value = run->block(inputs).value;
    }
    auto grads = torch::autograd::grad({value}, leaves, {grad_outputs[0]}, /*retain_graph=*/false,
                                       /*create_graph=*/false, /*allow_unused=*/true);
    // One gradient per forward argument: every value, every parameter, none for the BlockRun.
    torch::autograd::variable_list result;
    size_t k = 0;
    for (size_t i = 0; i < values.size(); ++i)
      result.push_back(run->input_needs_grad[i] ? grads[k++] : torch::Tensor());
    for (const auto& p : run->params) result.push_back(p.requires_grad() ? grads[k++] : torch::Tensor());
    result.emplace_back();
    return result;
  }
};

}  // namespace

Jet checkpointed(const JetBlock& block, const std::vector<Jet>& inputs, const std::vector<torch::Tensor>& params) {
  bool needs_grad = false;
  for (const auto& x : inputs) needs_grad |= x.value.requires_grad();
  for (const auto& p : params) needs_grad |= p.requires_grad();
  if (!torch::GradMode::is_enabled() || !needs_grad) return block(inputs);
  auto run = c10::make_intrusive<BlockRun>(block, inputs.front().value.device());
  std::vector<torch::Tensor> values;
  for (const auto& x : inputs) {
    values.push_back(x.value);
    run->input_tangents.push_back(x.tangent);
    run->input_needs_grad.push_back(x.value.requires_grad());
  }
  run->params = params;
  auto outputs = CheckpointedBlock::apply(torch::TensorList(values), torch::TensorList(params), run);
  return Jet(outputs[0], run->output_tangent);
}

}  // namespace flowlab
