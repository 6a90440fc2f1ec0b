// training.ema_decays: each EMA is the one a run with that decay alone keeps; each is in the
// checkpoint and exported; sampling picks one by --ema; a one-EMA checkpoint resumes into a run
// with more.
#include <gtest/gtest.h>

#include "flowlab/io/npz.h"
#include "flowlab/io/safetensors.h"
#include "flowlab/methods/registry.h"
#include "flowlab/recipe.h"
#include "flowlab/training/checkpoint.h"
#include "flowlab/training/trainer.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

Config ema_config(const std::string& dir) {
  auto config = tiny_config(dir);
  config.training.steps = 4;
  config.training.ema_warmup = false;
  return config;
}

void expect_same_weights(Backbone& a, Backbone& b, const std::string& what) {
  auto pa = a.parameters(), pb = b.parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << what << " parameter " << i;
}

BackbonePtr ema_of_run_alone(double decay, const std::string& dir, int64_t steps = 4) {
  auto config = ema_config(dir);
  config.training.steps = steps;
  config.training.ema_decay = decay;
  auto method = make_method(config);
  auto data = tiny_dataset(8);
  Trainer alone(config, data, *method);
  alone.run();
  return alone.ema_model();
}

}  // namespace

TEST(Ema, EachOfSeveralDecaysIsTheEmaOfARunWithThatDecayAlone) {
  TempDir dir;
  auto config = ema_config(dir / "both");
  config.training.ema_decays = {0.5, 0.9};
  auto method = make_method(config);
  auto data = tiny_dataset(8);
  Trainer both(config, data, *method);
  auto checkpoint = both.run().checkpoint;

  CheckpointReader reader(checkpoint);
  for (double decay : {0.5, 0.9}) {
    auto alone = ema_of_run_alone(decay, dir / ("alone" + std::to_string(decay)));
    auto kept = make_backbone(reader.config());
    reader.load_weights(*kept, WeightChoice{true, decay});
    expect_same_weights(*kept, *alone, "checkpoint EMA " + std::to_string(decay));
    // Exported: the first as weights_ema.*, the others as weights_ema_DECAY.*.
    auto exported = read_safetensors(dir / (decay == 0.5 ? "both/weights_ema.safetensors"
                                                          : "both/weights_ema_0.9.safetensors"));
    auto named = named_weights(*alone);
    for (const auto& [name, tensor] : named) EXPECT_TRUE(torch::equal(exported.tensors.at(name), tensor)) << name;
  }
  // The default is the first decay; the two EMAs differ.
  auto first = make_backbone(reader.config()), second = make_backbone(reader.config());
  reader.load_weights(*first, true);
  reader.load_weights(*second, WeightChoice{true, 0.9});
  expect_same_weights(*first, *both.ema_model(), "default EMA");
  EXPECT_FALSE(torch::equal(first->parameters().front(), second->parameters().front()));
  auto message = error_of([&] { reader.load_weights(*first, WeightChoice{true, 0.7}); });
  EXPECT_NE(message.find("keeps EMA decays 0.5, 0.9; 0.7 is not one of them"), std::string::npos) << message;
}

TEST(Ema, SamplingPicksAnEmaByItsDecay) {
  TempDir dir;
  auto trained = train_quickstart("train_cfm", dir / "run", 3,
                                  "--lr 0.01 --set training.ema_decays=[0.5,0.9] --set training.ema_warmup=false");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  auto generate = [&](const std::string& flags, const std::string& out) {
    return run_command(app("generate_samples") + " --checkpoint " + (dir / "run/last.pt") +
                       " --num_samples 2 --steps 2 --threads 1 --npz " + (dir / (out + ".npz")) + " --output_dir " +
                       (dir / out) + " " + flags);
  };
  for (const auto& [flags, out] : std::vector<std::pair<std::string, std::string>>{
           {"", "default"}, {"--ema 0.5", "first"}, {"--ema 0.9", "second"}}) {
    auto r = generate(flags, out);
    ASSERT_EQ(r.exit_code, 0) << flags << r.output;
  }
  auto images = [&](const std::string& out) { return read_npz(dir / (out + ".npz"))["arr_0"]; };
  EXPECT_TRUE(torch::equal(images("default"), images("first")));
  EXPECT_FALSE(torch::equal(images("first"), images("second")));
  auto unknown = generate("--ema 0.7", "unknown");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("keeps EMA decays 0.5, 0.9; 0.7 is not one of them"), std::string::npos)
      << unknown.output;
  auto both = generate("--ema 0.9 --no_ema", "both");
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.output.find("--no_ema and --ema pick different weights"), std::string::npos) << both.output;
}

TEST(Ema, AOneEmaCheckpointResumesIntoARunWithMore) {
  TempDir dir;
  auto config = ema_config(dir / "run");
  config.training.ema_decay = 0.9;
  auto method = make_method(config);
  auto data = tiny_dataset(8);
  Trainer first_half(config, data, *method);
  auto half = first_half.run("", 2);
  ASSERT_TRUE(half.stopped);
  config.training.ema_decays = {0.9, 0.5};
  Trainer resumed(config, data, *method);
  ASSERT_EQ(resumed.run(half.checkpoint).step, 4);
  // The kept EMA went on as if the run had never stopped.
  expect_same_weights(*resumed.ema_model(), *ema_of_run_alone(0.9, dir / "alone"), "EMA 0.9");
  // The new one started from the weights w2 at step 2; after two updates of decay 0.5 it is
  // 0.25 w2 + 0.25 w3 + 0.5 w4.
  Trainer to_step3(ema_config(dir / "three"), data, *method);
  to_step3.run("", 3);
  CheckpointReader reader(dir / "run/last.pt");
  EXPECT_TRUE(reader.has_ema(0.5));
  auto added = make_backbone(reader.config());
  reader.load_weights(*added, WeightChoice{true, 0.5});
  auto w2 = first_half.model()->parameters(), w3 = to_step3.model()->parameters(),
       w4 = resumed.model()->parameters(), e = added->parameters();
  for (size_t i = 0; i < e.size(); ++i) {
    auto expected = 0.25 * w2[i] + 0.25 * w3[i] + 0.5 * w4[i];
    EXPECT_LE((e[i] - expected).abs().max().item<double>(), 1e-6) << "parameter " << i;
  }
  EXPECT_FALSE(torch::equal(e.back(), w4.back()));
}
