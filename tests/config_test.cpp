#include <gtest/gtest.h>

#include "flowlab/config.h"
#include "flowlab/error.h"
#include "flowlab/recipe.h"
#include "test_helpers.h"

using namespace flowlab;
using flowlab::testing::error_of;

TEST(Config, DefaultsAreTheSeedRecipeAndValid) {
  Config c;
  EXPECT_EQ(c.model.base_channels, 64);
  EXPECT_EQ(c.model.channel_mults, (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(c.model.num_res_blocks, 2);
  EXPECT_EQ(c.model.time_embed_dim, 128);
  EXPECT_DOUBLE_EQ(c.model.dropout, 0.1);
  EXPECT_DOUBLE_EQ(c.training.lr, 3e-4);
  EXPECT_DOUBLE_EQ(c.training.weight_decay, 0.01);
  EXPECT_DOUBLE_EQ(c.scheduler.min_lr, 1e-4);
  EXPECT_DOUBLE_EQ(c.training.cfg_dropout, 0.1);
  EXPECT_NO_THROW(validate(c));
}

TEST(Config, YamlOverridesOnlyTheKeysItNames) {
  Config c;
  apply_config_text(c, "training:\n  lr: 1e-3\n  batch_size: 32\nmodel:\n  channel_mults: [1, 2]\n");
  EXPECT_DOUBLE_EQ(c.training.lr, 1e-3);
  EXPECT_EQ(c.training.batch_size, 32);
  EXPECT_EQ(c.model.channel_mults, (std::vector<int>{1, 2}));
  EXPECT_EQ(c.training.epochs, 200);  // untouched default
}

TEST(Config, SetOverridesAnyKeyWithTypeChecks) {
  Config c;
  apply_override(c, "training.lr=5e-5");
  apply_override(c, "model.channel_mults=[1,2,2]");
  apply_override(c, "data.random_flip=false");
  apply_override(c, "training.output_dir=runs/a=b");
  EXPECT_DOUBLE_EQ(c.training.lr, 5e-5);
  EXPECT_EQ(c.model.channel_mults, (std::vector<int>{1, 2, 2}));
  EXPECT_EQ(c.data.random_flip, "false");
  EXPECT_EQ(c.training.output_dir, "runs/a=b");
}

TEST(Config, UnknownKeyNamesTheKeyAndListsTheKnownOnes) {
  Config c;
  auto msg = error_of([&] { apply_config_text(c, "training:\n  lrr: 1\n"); });
  EXPECT_NE(msg.find("training.lrr"), std::string::npos) << msg;
  EXPECT_NE(msg.find("batch_size"), std::string::npos) << msg;
  msg = error_of([&] { apply_override(c, "trainin.lr=1"); });
  EXPECT_NE(msg.find("unknown section 'trainin'"), std::string::npos) << msg;
  // Shapes YAML allows but a config cannot have (found by scripts/checks/fuzz.sh).
  msg = error_of([&] { apply_config_text(c, "training:\n  ? [lr]\n  : 1\n"); });
  EXPECT_NE(msg.find("not a plain name"), std::string::npos) << msg;
  msg = error_of([&] { apply_config_text(c, "model: 3\n"); });
  EXPECT_NE(msg.find("section 'model' must be a mapping"), std::string::npos) << msg;
}

TEST(Config, WrongTypeNamesKeyValueAndExpectedType) {
  Config c;
  auto msg = error_of([&] { apply_override(c, "training.batch_size=abc"); });
  EXPECT_NE(msg.find("training.batch_size"), std::string::npos) << msg;
  EXPECT_NE(msg.find("abc"), std::string::npos) << msg;
  EXPECT_NE(msg.find("an integer"), std::string::npos) << msg;
  msg = error_of([&] { apply_override(c, "model.channel_mults=3"); });
  EXPECT_NE(msg.find("list of integers"), std::string::npos) << msg;
  msg = error_of([&] { apply_override(c, "training.batch_size=2.5"); });
  EXPECT_NE(msg.find("an integer"), std::string::npos) << msg;
}

TEST(Config, OutOfRangeValuesFailValidation) {
  struct Case {
    const char* assignment;
    const char* expect;
  };
  for (auto [assignment, expect] : std::vector<Case>{
           {"training.lr=-0.001", "must be > 0"},
           {"training.batch_size=0", "must be > 0"},
           {"training.cfg_dropout=1.5", "must be in [0, 1]"},
           {"sampling.sampler=dopri", "must be one of: euler heun midpoint rk45"},
           {"data.dataset=imagenet", "must be one of"},
           {"model.type=resnet", "must be one of: tiny_unet"},
       }) {
    Config c;
    apply_override(c, assignment);
    auto msg = error_of([&] { validate(c); });
    std::string key = std::string(assignment).substr(0, std::string(assignment).find('='));
    EXPECT_NE(msg.find(key), std::string::npos) << assignment << " -> " << msg;
    EXPECT_NE(msg.find(expect), std::string::npos) << assignment << " -> " << msg;
  }
}

TEST(Config, CrossFieldRules) {
  Config c;
  c.data.image_size = 30;  // three levels need a multiple of 4
  EXPECT_NE(error_of([&] { validate(c); }).find("divisible by 4"), std::string::npos);
  c = Config();
  c.model.attention_resolutions = {5};
  EXPECT_NE(error_of([&] { validate(c); }).find("attention_resolutions"), std::string::npos);
  c = Config();
  c.scheduler.min_lr = 1.0;
  EXPECT_NE(error_of([&] { validate(c); }).find("min_lr"), std::string::npos);
  c = Config();
  c.sampling.cfg_t_min = 0.8;
  c.sampling.cfg_t_max = 0.2;
  EXPECT_NE(error_of([&] { validate(c); }).find("sampling.cfg_t_min (0.800000) must not exceed sampling.cfg_t_max"),
            std::string::npos);
  c = Config();
  c.meanflow.guidance_t_min = 0.5;
  c.meanflow.guidance_t_max = 0.4;
  EXPECT_NE(error_of([&] { validate(c); }).find("meanflow.guidance_t_min"), std::string::npos);
  c = Config();
  c.data.dataset = "cifar10";
  EXPECT_NE(error_of([&] { validate(c); }).find("data_dir"), std::string::npos);
  c = Config();
  c.sampling.resample_repeats = 5;  // RePaint resampling is a DDPM option
  EXPECT_NE(error_of([&] { validate(c); }).find("DDPM models only"), std::string::npos);
  c.method.name = "ddpm";
  c.sampling.sampler = "ddpm";
  EXPECT_NO_THROW(validate(c));
}

TEST(Config, YamlDumpRoundTrips) {
  Config c;
  apply_override(c, "training.lr=0.0003");
  apply_override(c, "model.channel_mults=[1,2]");
  apply_override(c, "data.image_size=16");
  auto text = config_to_yaml(c);
  EXPECT_NE(text.find("lr: 0.0003"), std::string::npos) << text;
  Config back;
  apply_config_text(back, text);
  EXPECT_EQ(config_to_yaml(back), text);
}

TEST(Config, FileErrorsAreClear) {
  Config c;
  auto msg = error_of([&] { apply_config_file(c, "/nonexistent/x.yaml"); });
  EXPECT_NE(msg.find("cannot read /nonexistent/x.yaml"), std::string::npos) << msg;
  flowlab::testing::TempDir dir;
  flowlab::testing::write_text(dir / "bad.yaml", "training: [1, 2\n");
  msg = error_of([&] { apply_config_file(c, dir / "bad.yaml"); });
  EXPECT_NE(msg.find("YAML parse error"), std::string::npos) << msg;
}

TEST(Config, EveryShippedConfigLoadsAndValidates) {
  for (const auto& entry : std::filesystem::directory_iterator(FLOWLAB_CONFIGS_DIR)) {
    Config c;
    ASSERT_NO_THROW(apply_config_file(c, entry.path().string())) << entry.path();
    if (c.data.data_dir.empty() && c.data.dataset != "shapes") c.data.data_dir = "/data";
    // As the program of the method it names runs it (train_vae picks the sampler reconstruct).
    EXPECT_NO_THROW(validate(for_method(c, c.method.name, false))) << entry.path();
  }
}

TEST(Config, DiTVariantMustBeKnownAndItsPatchMustDivideTheImage) {
  Config c;
  c.model.type = "dit";
  c.model.variant = "DiT-S/4";
  c.data.image_size = 30;
  auto message = error_of([&] { validate(c); });
  EXPECT_NE(message.find("patch size 4, which does not divide data.image_size 30"),
            std::string::npos) << message;
  c.data.image_size = 32;
  EXPECT_NO_THROW(validate(c));
  c.model.variant = "DiT-Z/2";
  message = error_of([&] { validate(c); });
  EXPECT_NE(message.find("known: DiT-T/2 DiT-S/2"), std::string::npos) << message;
}

TEST(Recipe, TheProgramDecidesTheMethodItsSamplerAndTheBackbonesForm) {
  Config quickstart;  // a CFM recipe: euler, 25 steps, tiny_unet
  quickstart.sampling.steps = 25;
  auto ddpm = for_method(quickstart, "ddpm", false);
  EXPECT_EQ(ddpm.method.name, "ddpm");
  EXPECT_EQ(ddpm.sampling.sampler, "ddpm");
  EXPECT_EQ(ddpm.sampling.steps, 25);
  EXPECT_EQ(ddpm.model.type, "tiny_unet");
  auto meanflow = for_method(quickstart, "meanflow", false);
  EXPECT_EQ(meanflow.sampling.sampler, "meanflow");
  EXPECT_EQ(meanflow.sampling.steps, 1);
  EXPECT_EQ(meanflow.model.type, "tiny_unet_meanflow");
  EXPECT_NO_THROW(validate(meanflow));
  // And back: a MeanFlow recipe trains CFM on the one-time TinyUNet; a sampler of the method's own
  // stays; DiT is one type for every method.
  auto cfm = for_method(meanflow, "cfm", false);
  EXPECT_EQ(cfm.model.type, "tiny_unet");
  EXPECT_EQ(cfm.sampling.sampler, "euler");
  quickstart.sampling.sampler = "heun";
  quickstart.model.type = "dit";
  EXPECT_EQ(for_method(quickstart, "cfm", false).sampling.sampler, "heun");
  EXPECT_EQ(for_method(quickstart, "meanflow", false).model.type, "dit");
}
