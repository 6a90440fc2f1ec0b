#include "flowlab/training/graphed_step.h"

#include "flowlab/error.h"
#include "flowlab/sampling/guidance.h"
#include "flowlab/training/optimizer_step.h"

namespace flowlab {
namespace {

torch::optim::AdamW& adamw_of(torch::optim::Optimizer& optimizer) {
  auto* adamw = dynamic_cast<torch::optim::AdamW*>(&optimizer);
  if (!adamw) throw Error("compute.cuda_graphs captures AdamW's update only; use training.optimizer adamw");
  return *adamw;
}

std::string shape_of(const torch::Tensor& t) { return c10::str(t.sizes()); }

}  // namespace

void check_cuda_graphs(const Config& config, int64_t processes) {
  if (!config.compute.cuda_graphs) return;
  const auto& device = config.training.device;
  auto unavailable = cuda_graphs_unavailable(device == "cuda" ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU));
  if (!unavailable.empty()) throw Error("config: " + unavailable);
  if (config.training.optimizer != "adamw")
    throw Error("config: compute.cuda_graphs captures AdamW's update only; training.optimizer " +
                config.training.optimizer + " runs eagerly (turn cuda_graphs off, or use adamw)");
  if (config.method.name == "vae")
    throw Error("config: compute.cuda_graphs: the autoencoder's discriminator step is not captured; "
                "train the autoencoder without it");
  const auto& mf = config.meanflow;
  if (config.method.name == "meanflow" && mf.jvp_pass != "fused")
    throw Error("config: compute.cuda_graphs: meanflow.jvp_pass " + mf.jvp_pass +
                " picks the rows with r < t on the host, which a captured step cannot; use meanflow.jvp_pass fused");
  if (config.method.name == "meanflow" && (mf.guidance_w != 1.0 || mf.guidance_kappa != 0.0) &&
      !GuidanceInterval{mf.guidance_t_min, mf.guidance_t_max}.everywhere())
    throw Error("config: compute.cuda_graphs: meanflow.guidance_t_min and guidance_t_max decide per step on the "
                "device which rows are guided, which a captured step cannot (guide on [0, 1], or turn cuda_graphs off)");
  if (processes > 1)
    throw Error("config: compute.cuda_graphs runs in one process; the gradient all-reduce of " +
                std::to_string(processes) + " processes is not captured (launch one, or turn cuda_graphs off)");
}

GraphedTrainStep::GraphedTrainStep(TrainingState& state, Method& method, const Config& config, torch::Device device,
                                   bool capture, int eager_steps)
    : state_(state),
      method_(method),
      config_(config),
      device_(device),
      capture_(capture),
      eager_steps_(eager_steps),
      adamw_(adamw_of(*state.optimizer)) {
  if (capture_)
    if (auto why = cuda_graphs_unavailable(device); !why.empty()) throw Error(why);
  const auto on = torch::TensorOptions().device(device).dtype(torch::kFloat32);
  for (size_t i = 0; i < state_.emas.size(); ++i) ema_weights_.push_back(torch::zeros({}, on));
  non_finite_ = torch::zeros({}, on.dtype(torch::kBool));
}

void GraphedTrainStep::body() {
  state_.model->train();
  for (const auto& p : state_.params)
    if (p.grad().defined()) p.grad().zero_();  // in place: the graph keeps the gradients' memory
  StepRandom rng;  // the CUDA generator's stream: a capture may not reseed it
  outputs_ = accumulate_gradients(state_, method_, inputs_, config_, rng);
  grad_norm_ = clip_gradients(state_.params, config_.training.grad_clip);
  auto checked = torch::stack({outputs_.loss.to(grad_norm_.device()), grad_norm_});
  non_finite_.logical_or_(torch::isfinite(checked).all().logical_not());
  adamw_.update();
  for (size_t i = 0; i < state_.emas.size(); ++i) state_.emas[i]->update(ema_weights_[i]);
}

TrainStep GraphedTrainStep::operator()(const Batch& batch, double lr) {
  {
    torch::NoGradGuard no_grad;
    if (!inputs_.images.defined()) {
      inputs_.images = torch::empty_like(batch.images, torch::TensorOptions().device(device_));
      inputs_.labels = torch::empty_like(batch.labels, torch::TensorOptions().device(device_));
    } else if (!inputs_.images.sizes().equals(batch.images.sizes())) {
      throw Error("compute.cuda_graphs: the batch changed shape from " + shape_of(inputs_.images) + " to " +
                  shape_of(batch.images) + "; a captured step needs the same batch every step");
    }
    inputs_.images.copy_(batch.images);
    inputs_.labels.copy_(batch.labels);
    if (batch.noise.defined()) {
      if (!inputs_.noise.defined()) inputs_.noise = torch::empty_like(inputs_.images);
      inputs_.noise.copy_(batch.noise);
    }
  }
  set_learning_rate(*state_.optimizer, lr, config_.training);  // kept in the options for checkpoints
  adamw_.prepare(lr);
  for (size_t i = 0; i < state_.emas.size(); ++i)
    ema_weights_[i].fill_(1.0 - state_.emas[i]->decay_at(state_.step + 1));
  if (graph_) {
    graph_->replay();
  } else if (!capture_ || steps_run_ < eager_steps_) {
    body();
  } else {
    graph_ = std::make_unique<CapturedWork>([this] { body(); }, device_, "the training step");
    graph_->replay();
  }
  ++steps_run_;
  method_.after_step();
  ++state_.step;
  TrainStep step;
  step.update.loss = outputs_.loss.clone();
  step.update.grad_norm = grad_norm_.clone();
  step.update.applied = true;
  for (const auto& [name, value] : outputs_.metrics) step.metrics[name] = value.clone();
  return step;
}

bool GraphedTrainStep::non_finite_seen() const { return non_finite_.item<bool>(); }

}  // namespace flowlab
