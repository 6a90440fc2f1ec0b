// AdamW's update with its step-dependent scalars (learning rate, bias corrections) held in device
// tensors, so that one captured update serves every step (compute.cuda_graphs). It reads and
// writes torch::optim::AdamW's own state, so a checkpoint is the same whichever made the steps.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace flowlab {

class DeviceScalarAdamW {
 public:
  // Makes the state AdamW would make on its first step (zero moments, step 0) for every
  // parameter that has none, so the update's tensors exist before a capture.
  explicit DeviceScalarAdamW(torch::optim::AdamW& optimizer);

  // On the host, before update(): step count + 1 in every parameter's state, and this step's
  // scalars for learning rate `lr` written into the device tensors.
  void prepare(double lr);
  // On the device: the update of torch::optim::AdamW::step (decoupled weight decay, no amsgrad)
  // from the current gradients; parameters without a gradient are left alone. Capturable.
  void update();

 private:
  struct Slot {
    torch::Tensor param, exp_avg, exp_avg_sq;
    torch::optim::AdamWParamState* state;
  };
  // One parameter group: its hyperparameters, its parameters, and its device scalars
  // 1 - lr * weight_decay, sqrt(1 - beta2^step) and -lr / (1 - beta1^step).
  struct Group {
    double beta1, beta2, eps, weight_decay;
    std::vector<Slot> slots;
    torch::Tensor shrink, root_bias2, neg_step;
  };
  std::vector<Group> groups_;
};

}  // namespace flowlab
