#include "flowlab/bench/benchmarks.h"

#include <sys/resource.h>

#include <torch/csrc/autograd/profiler_legacy.h>

#include <chrono>

#include "flowlab/data/batcher.h"
#include "flowlab/methods/registry.h"
#include "flowlab/models/flops.h"
#include "flowlab/models/memory_format.h"
#include "flowlab/recipe.h"
#include "flowlab/sampling/graphed_sampling.h"
#include "flowlab/training/graphed_step.h"
#include "flowlab/training/training_state.h"

namespace flowlab {
namespace {

void synchronize(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

// Runs f() `warmup` times, then times `repeats` more calls.
template <class F>
double timed(int warmup, int repeats, torch::Device device, F&& f) {
  for (int i = 0; i < warmup; ++i) f();
  synchronize(device);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) f();
  synchronize(device);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Measurement finish(double seconds, int64_t images) {
  Measurement m;
  m.seconds = seconds;
  m.images = images;
  m.images_per_second = seconds > 0 ? static_cast<double>(images) / seconds : 0.0;
  return m;
}

}  // namespace

Measurement time_training(const Config& config, int warmup, int steps, torch::Device device,
                          const std::string& profile_path) {
  const auto& tc = config.training;
  auto state = make_training_state(config, device);
  if (config.compute.channels_last) use_channels_last(state);
  auto method = make_method(config);
  int64_t b = tc.batch_size, size = config.data.image_size;
  auto opts = torch::TensorOptions().device(device);
  Batch batch;
  batch.images = torch::rand({b, config.model.in_channels, size, size}, opts) * 2 - 1;
  batch.labels = torch::randint(0, std::max<int64_t>(1, config.model.num_classes), {b},
                                opts.dtype(torch::kInt64));
  // compute.cuda_graphs: captured after 3 eager steps, so the warm-up covers the capture.
  std::unique_ptr<GraphedTrainStep> graphed;
  if (config.compute.cuda_graphs) {
    check_cuda_graphs(config, 1);
    graphed = std::make_unique<GraphedTrainStep>(state, *method, config, device);
    warmup = std::max(warmup, 4);
  }
  auto train_step = [&] {
    StepRandom rng(tc.seed, state.step, {0, b, b});  // the trainer's per-step draws
    if (graphed) {
      rng.seed_default_generators();
      (*graphed)(batch, tc.lr);
    } else {
      flowlab::train_step(state, *method, batch, config, tc.lr, rng);
    }
  };
  double seconds = timed(warmup, steps, device, train_step);
  if (!profile_path.empty()) {
    torch::autograd::profiler::RecordProfile profile(profile_path);  // chrome://tracing format
    for (int i = 0; i < steps; ++i) train_step();
  }
  auto m = finish(seconds, steps * b);
  m.parameters = state.model->parameter_count();
  {
    torch::NoGradGuard no_grad;
    StepRandom rng(tc.seed, 0, {0, b, b});
    auto loss = count_flops([&] { method->loss(*state.model, batch.images, batch.labels, rng); });
    auto forward = forward_flops(as_backbone(*state.model), config.model.in_channels, size);
    m.flops_per_image = loss.matmul / static_cast<double>(b) + 2 * forward.matmul;
  }
  return m;
}

Measurement time_sampling(const Config& config, torch::Device device) {
  torch::manual_seed(static_cast<uint64_t>(config.training.seed));
  auto model = make_backbone(config);
  model->to(device);
  if (config.compute.channels_last) to_channels_last(*model);
  model->eval();
  auto method = make_method(config);
  const auto& s = config.sampling;
  int64_t size = config.data.image_size, batch = s.batch_size;
  int64_t batches = (s.num_samples + batch - 1) / batch;
  auto opts = torch::TensorOptions().device(device);
  int64_t classes = model->num_classes();
  auto labels = classes > 0 ? torch::arange(batch, opts.dtype(torch::kInt64)) % classes
                            : torch::full({batch}, model->null_label(), opts.dtype(torch::kInt64));
  auto noise = torch::randn({batch, config.model.in_channels, size, size}, opts);
  int64_t nfe = 0;
  auto sample = [&] { nfe = method->sample(*model, noise, labels, s).nfe; };
  auto warmup = count_flops(sample);
  // compute.cuda_graphs: recorded on the second call (the first warms up), outside the timing.
  std::unique_ptr<GraphedSampling> graphed;
  if (config.compute.cuda_graphs) {
    graphed = std::make_unique<GraphedSampling>(*method, *model, s, device);
    for (int i = 0; i < 2; ++i) (*graphed)(noise, labels);
  }
  double seconds = timed(0, static_cast<int>(batches), device, [&] {
    if (graphed) nfe = (*graphed)(noise, labels).nfe;
    else sample();
  });
  auto m = finish(seconds, batches * batch);
  m.flops_per_image = warmup.matmul / static_cast<double>(batch);
  m.nfe = nfe;
  m.parameters = model->parameter_count();
  return m;
}

Measurement time_features(FeatureExtractor& extractor, int64_t images, int64_t size,
                          int64_t batch_size, torch::Device device) {
  auto batch = torch::rand({batch_size, 3, size, size}, torch::TensorOptions().device(device));
  int batches = static_cast<int>((images + batch_size - 1) / batch_size);
  double seconds = timed(1, batches, device, [&] { extractor.features(batch); });
  return finish(seconds, static_cast<int64_t>(batches) * batch_size);
}

Measurement time_data_pipeline(const Dataset& data, int64_t batch_size, int steps, torch::Device device) {
  Batcher batcher(data, batch_size, true, 0, device);
  int64_t step = 0;
  double seconds = timed(1, steps, device, [&] {
    StepRandom rng(0, step, batcher.shard());
    batcher.at_step(step++, rng);
  });
  return finish(seconds, steps * batch_size);
}

int64_t peak_rss_bytes() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

}  // namespace flowlab
