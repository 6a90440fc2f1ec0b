// Inpainting: mask statistics, known pixels kept, exact recovery with an oracle, metrics against
// skimage golden values.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "flowlab/data/transforms.h"
#include "flowlab/methods/cfm.h"
#include "flowlab/methods/ddpm.h"
#include "flowlab/methods/registry.h"
#include "flowlab/eval/image_metrics.h"
#include "flowlab/tasks/inpaint_finetune.h"
#include "flowlab/training/trainer.h"
#include "flowlab/tasks/inpainting.h"
#include "flowlab/tasks/masks.h"
#include "test_helpers.h"
#include "tiny_problem.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

// Exact CFM velocity when the data is one point x*: x_t = (1 - t) x* + t eps, so
// v = eps - x* = (x_t - x*) / t.
class PointOracle : public Backbone {
 public:
  explicit PointOracle(torch::Tensor point) : point_(std::move(point)) {}
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor&) override {
    return (x - point_) / t.view({-1, 1, 1, 1});
  }
  std::string type_name() const override { return "oracle"; }
  int64_t num_classes() const override { return 0; }

 private:
  torch::Tensor point_;
};

torch::Tensor hole_fraction(const torch::Tensor& masks) { return 1 - masks.mean({1, 2, 3}); }

}  // namespace

TEST(Inpainting, MaskCoverageAndShapes) {
  for (int64_t size : {32, 64}) {
    auto center = make_masks("center", 4, size, 0);
    EXPECT_TRUE(torch::allclose(hole_fraction(center), torch::full({4}, 0.25)));
    EXPECT_EQ(center[0][0][size / 2][size / 2].item<float>(), 0.0f);
    EXPECT_EQ(center[0][0][size / 4 - 1][size / 2].item<float>(), 1.0f);
  }
  int64_t n = 400;
  auto half = make_masks("half", n, 32, 3);
  EXPECT_TRUE(torch::allclose(hole_fraction(half), torch::full({n}, 0.5)));
  // Left and top halves both occur: pixel (16, 0) is a hole only for left halves, (0, 16) only
  // for top halves.
  auto left = half.select(3, 0).select(2, 16).squeeze(1) == 0;  // (n,)
  auto top = half.select(2, 0).select(2, 16).squeeze(1) == 0;
  EXPECT_GT(left.sum().item<int64_t>(), 50);
  EXPECT_GT(top.sum().item<int64_t>(), 50);

  auto bbox = make_masks("random_bbox", n, 32, 3);
  auto holes = (1 - bbox).squeeze(1);
  auto rows = holes.amax(2).sum(1), cols = holes.amax(1).sum(1);  // rectangle sides
  EXPECT_GE(rows.min().item<float>(), 8);
  EXPECT_LE(rows.max().item<float>(), 20);
  EXPECT_GE(cols.min().item<float>(), 8);
  EXPECT_LE(cols.max().item<float>(), 20);
  EXPECT_TRUE(torch::equal(holes.sum({1, 2}), rows * cols));  // one solid rectangle

  auto irregular = hole_fraction(make_masks("irregular", n, 32, 3));
  double mean = irregular.mean().item<double>();
  EXPECT_GT(mean, 0.15);
  EXPECT_LT(mean, 0.30);
  EXPECT_GT(irregular.min().item<double>(), 0.02);

  // Reproducible and independent of batching.
  auto all = make_masks("irregular", 8, 32, 11);
  EXPECT_TRUE(torch::equal(all.slice(0, 5, 8), make_masks("irregular", 3, 32, 11, 5)));
  EXPECT_FALSE(torch::equal(all, make_masks("irregular", 8, 32, 12)));
  EXPECT_NE(error_of([] { make_masks("blob", 1, 32, 0); }).find("known: center"), std::string::npos);
}

TEST(Inpainting, OracleRecoversThePointAndKnownPixelsStayExact) {
  torch::manual_seed(0);
  auto point = class_images().slice(0, 2, 3);  // (1, 3, 8, 8)
  PointOracle oracle(point);
  CfmMethod cfm(MethodConfig{});
  SamplingConfig s;
  s.steps = 10;
  s.cfg_scale = 1.0;
  auto known = point.repeat({4, 1, 1, 1});
  auto mask = make_masks("center", 4, 8, 0);
  auto noise = torch::randn({4, 3, 8, 8});
  for (const auto& mode : replacement_modes()) {
    auto out = inpaint(cfm, oracle, known, mask, torch::zeros({4}, torch::kInt64), noise, s, mode);
    EXPECT_LT((out - known).abs().max().item<double>(), 1e-5) << mode;
  }
  // With a wrong "known" image the known pixels are still exactly what was given.
  auto other = torch::rand({4, 3, 8, 8}) * 2 - 1;
  auto out = inpaint(cfm, oracle, other, mask, torch::zeros({4}, torch::kInt64), noise, s);
  EXPECT_TRUE(torch::equal(out * mask, other * mask));
  EXPECT_GT(((out - other) * (1 - mask)).abs().max().item<double>(), 0.1);
}

namespace {

// CFM's noising with a sampler that only visits t = 0.75, 0.5, 0.25 and records the states the
// replacement hook returns.
class HookRecorder : public CfmMethod {
 public:
  HookRecorder() : CfmMethod(MethodConfig{}) {}
  SampleOutput sample(Backbone&, const torch::Tensor& noise, const torch::Tensor&, const SamplingConfig&,
                      const StepHook& hook) override {
    for (double t : {0.75, 0.5, 0.25}) states.push_back(hook(noise, t));
    return {noise, 3};
  }
  std::vector<torch::Tensor> states;
};

}  // namespace

TEST(Inpainting, FreshReplacementDrawsNewNoiseEveryStepNoisedKeepsTheSamples) {
  PointOracle unused(torch::zeros({1, 3, 8, 8}));
  auto known = torch::rand({16, 3, 8, 8}) * 2 - 1;
  auto mask = torch::ones({16, 1, 8, 8});  // all known: every pixel is replaced
  auto noise = torch::randn({16, 3, 8, 8});
  auto eps_of = [&](const torch::Tensor& state, double t) { return (state - (1 - t) * known) / t; };
  const double ts[] = {0.75, 0.5, 0.25};
  for (const std::string mode : {"noised", "fresh"}) {
    HookRecorder recorder;
    inpaint(recorder, unused, known, mask, torch::zeros({16}, torch::kInt64), noise, SamplingConfig{}, mode);
    ASSERT_EQ(recorder.states.size(), 3u);
    std::vector<torch::Tensor> eps;
    for (size_t k = 0; k < 3; ++k) eps.push_back(eps_of(recorder.states[k], ts[k]));
    for (size_t k = 0; k < 3; ++k) {
      if (mode == "noised") {
        EXPECT_TRUE(torch::allclose(eps[k], noise, 1e-4, 1e-5)) << k;
      } else {
        EXPECT_GT((eps[k] - noise).abs().max().item<double>(), 0.5) << k;
        EXPECT_GT((eps[k] - eps[(k + 1) % 3]).abs().max().item<double>(), 0.5) << k;
        EXPECT_NEAR(eps[k].std().item<double>(), 1.0, 0.1) << k;  // 3,072 standard normal draws
      }
    }
  }
}

TEST(Inpainting, ReplacementChoicesExpandAndDefaultToTheMethods) {
  using V = std::vector<std::string>;
  EXPECT_EQ(expand_replacements("auto", "ddpm"), V{"fresh"});  // measured better for DDPM (docs/results.md)
  EXPECT_EQ(expand_replacements("auto", "cfm"), V{"noised"});
  EXPECT_EQ(expand_replacements("auto", "meanflow"), V{"noised"});
  EXPECT_EQ(expand_replacements("both", "ddpm"), (V{"noised", "clean"}));
  EXPECT_EQ(expand_replacements("all", "cfm"), (V{"noised", "fresh", "clean"}));
  EXPECT_EQ(expand_replacements("clean", "cfm"), V{"clean"});
  EXPECT_NE(error_of([] { expand_replacements("paste", "cfm"); }).find("--replacement paste"), std::string::npos);
}

TEST(Inpainting, ScoresTheImagesAsSavedClampedAndQuantised) {
  // The oracle's point is three times the images, so the filled holes overshoot [-1, 1].
  auto images = float_to_uint8(class_images());  // (4, 3, 8, 8)
  auto original = uint8_to_float(images);
  PointOracle oracle(original * 3);
  CfmMethod cfm(MethodConfig{});
  SamplingConfig s;
  s.steps = 10;
  s.cfg_scale = 1.0;
  s.batch_size = 4;
  auto run = run_inpainting(cfm, oracle, images, torch::zeros({4}, torch::kInt64), "center", "clean",
                            s, 0, torch::kCPU);
  auto hole = (1 - run.masks).expand_as(original).to(torch::kBool);
  auto expected = uint8_to_float(float_to_uint8(original * 3));  // clamped, 8-bit
  EXPECT_TRUE(torch::allclose(run.inpainted.masked_select(hole), expected.masked_select(hole), 0, 1e-6));
  EXPECT_TRUE(torch::equal(run.inpainted, uint8_to_float(float_to_uint8(run.inpainted))));
  auto a = (run.inpainted + 1) / 2, b = (original + 1) / 2, region = 1 - run.masks;
  EXPECT_TRUE(torch::allclose(run.hole_mse, mse(a, b, region)));
  EXPECT_TRUE(torch::allclose(run.hole_energy, mse(torch::zeros_like(b), b, region)));
  EXPECT_TRUE(torch::allclose(run.mse, mse(a, b)));  // (SSIM needs more than 8x8 pixels)
}

// A hole filled exactly has an infinite PSNR, and a black reference hole a 0/0 NMSE; the set's
// scores stay finite: PSNR of the mean MSE, NMSE of the mean MSE over the mean energy.
TEST(Inpainting, ScoresStayFiniteWhenHolesAreExactOrBlack) {
  // An oracle whose point is the images themselves fills every hole exactly.
  auto images = float_to_uint8(class_images());
  CfmMethod cfm(MethodConfig{});
  SamplingConfig s;
  s.steps = 10;
  s.cfg_scale = 1.0;
  PointOracle oracle(uint8_to_float(images));
  auto exact = run_inpainting(cfm, oracle, images, torch::zeros({4}, torch::kInt64), "center", "clean", s, 0,
                              torch::kCPU);
  auto scores = inpainting_scores(exact, torch::zeros({4}, torch::kInt64), {"all"});
  EXPECT_EQ(scores["hole_psnr"].get<double>(), kPsnrCeiling);  // the per-image mean was inf
  EXPECT_EQ(scores["hole_nmse"].get<double>(), 0.0);
  EXPECT_EQ(scores["exact_holes"].get<int64_t>(), 4);

  // Four images: exact and black; 0.01 and 0.04 against energy 0.25; 0.02 against a black hole.
  InpaintingRun run;
  auto v = [](std::vector<double> x) { return torch::tensor(x, torch::kFloat64); };
  run.mse = run.hole_mse = v({0, 0.01, 0.04, 0.02});
  run.energy = run.hole_energy = v({0, 0.25, 0.25, 0});
  run.ssim = run.hole_ssim = v({1, 0.5, 0.5, 0.8});
  auto classes = torch::tensor({0, 1, 1, 2}, torch::kInt64);
  auto all = inpainting_scores(run, classes, {"exact", "good", "black"});
  EXPECT_NEAR(all["hole_psnr"].get<double>(), 10 * std::log10(1 / 0.0175), 1e-12);
  EXPECT_NEAR(all["hole_nmse"].get<double>(), 0.0175 / 0.125, 1e-12);
  EXPECT_NEAR(all["hole_ssim"].get<double>(), 0.7, 1e-12);
  EXPECT_EQ(all["exact_holes"].get<int64_t>(), 1);
  const auto& per_class = all["per_class"];
  EXPECT_EQ(per_class[0]["hole_psnr"].get<double>(), kPsnrCeiling);
  EXPECT_EQ(per_class[0]["hole_nmse"].get<double>(), 0.0);
  EXPECT_NEAR(per_class[1]["hole_nmse"].get<double>(), 0.1, 1e-12);
  EXPECT_TRUE(per_class[2]["hole_nmse"].is_null());  // error against a black reference: undefined
  EXPECT_NEAR(per_class[2]["hole_psnr"].get<double>(), 10 * std::log10(1 / 0.02), 1e-12);
}

TEST(Inpainting, DdpmNoisedStateIsTheForwardProcess) {
  DdpmConfig c;
  c.timesteps = 100;
  DdpmMethod ddpm(c);
  auto x0 = torch::ones({1, 1, 2, 2}), eps = torch::full({1, 1, 2, 2}, 2.0);
  double ab = ddpm.schedule().alpha_bar(30);
  auto expected = std::sqrt(ab) * x0 + std::sqrt(1 - ab) * eps;
  EXPECT_TRUE(torch::allclose(ddpm.noised(x0, eps, 0.3), expected));
  EXPECT_TRUE(torch::equal(ddpm.noised(x0, eps, 0.0), x0));
}

TEST(Inpainting, MetricsMatchSkimage) {
  std::ifstream f(std::string(FLOWLAB_FIXTURES_DIR) + "/inpainting_golden.json");
  auto golden = nlohmann::json::parse(f);
  auto image = [](const nlohmann::json& j) {
    std::vector<double> flat;
    for (const auto& ch : j)
      for (const auto& row : ch)
        for (double v : row) flat.push_back(v);
    return torch::tensor(flat, torch::kFloat64).reshape({1, 3, 32, 32});
  };
  for (const auto& c : golden["cases"]) {
    auto a = image(c["a"]), b = image(c["b"]);
    EXPECT_NEAR(ssim(a, b).item<double>(), c["ssim"].get<double>(), 1e-4);
    EXPECT_NEAR(psnr(a, b).item<double>(), c["psnr"].get<double>(), 1e-6);
    EXPECT_NEAR(nmse(a, b).item<double>(), c["nmse"].get<double>(), 1e-9);
  }
  // Identity and a region: SSIM 1; the region restricts MSE to its pixels.
  auto a = image(golden["cases"][0]["a"]);
  EXPECT_NEAR(ssim(a, a).item<double>(), 1.0, 1e-12);
  auto region = torch::zeros({1, 1, 32, 32}, torch::kFloat64);
  region.slice(2, 0, 16).fill_(1);
  auto b = a.clone();
  b.slice(2, 16, 32).add_(0.5);  // differs only outside the region
  EXPECT_EQ(mse(a, b, region).item<double>(), 0.0);
  EXPECT_NEAR(mse(a, b).item<double>(), 0.125, 1e-12);
  EXPECT_NEAR(psnr(a, b).item<double>(), 10 * std::log10(8.0), 1e-9);
}

TEST(Inpainting, FinetuningLowersTheMaskedRegionLoss) {
  TempDir dir;
  auto data = tiny_dataset(16);
  auto config = tiny_config(dir.path() + "/base");
  config.training.steps = 20;  // a barely trained base model
  auto base_method = make_method(config);
  Trainer base(config, data, *base_method);
  auto pretrained = base.run().checkpoint;

  auto tuned_config = config;
  tuned_config.training.output_dir = dir.path() + "/tuned";
  tuned_config.training.init_from = pretrained;
  tuned_config.training.steps = 150;
  InpaintFinetuneMethod method(make_method(tuned_config), 1.0);
  Trainer tuned(tuned_config, data, method);
  tuned.run();

  // The CFM error inside centre masks, on fixed draws.
  auto masked_loss = [&](Backbone& model) {
    torch::NoGradGuard no_grad;
    torch::manual_seed(9);
    CfmMethod cfm(MethodConfig{});
    auto x = class_images().repeat({8, 1, 1, 1});
    auto y = torch::arange(4, torch::kInt64).repeat({8});
    auto hole = 1 - make_masks("center", 32, 8, 0);
    StepRandom rng;
    auto err = cfm.per_pixel_loss(model, x, y, rng);
    return ((err * hole).sum() / (hole.sum() * 3)).item<double>();
  };
  double before = masked_loss(*base.model()), after = masked_loss(*tuned.model());
  EXPECT_LT(after, 0.7 * before) << before << " -> " << after;
  // init_from started from the base weights: the first logged loss is the base model's level,
  // far below a random model's (~1.6).
  std::ifstream metrics(dir.path() + "/tuned/metrics.jsonl");
  std::string first;
  std::getline(metrics, first);
  EXPECT_LT(nlohmann::json::parse(first)["loss"].get<double>(), 1.2) << first;
}

TEST(Inpainting, DemoInpaintsAUsersImageKeepingItsKnownPixels) {
  TempDir dir;
  auto data = tiny_dataset(8);
  auto config = tiny_config(dir.path());
  config.training.steps = 2;
  auto method = make_method(config);
  Trainer trainer(config, data, *method);
  auto checkpoint = trainer.run().checkpoint;
  // A 16x16 version of class image 1: the demo fits it to the model's 8x8 as data.fit crop does.
  auto image = float_to_uint8(class_images()[1]).repeat_interleave(2, 1).repeat_interleave(2, 2);
  write_png(dir / "mine.png", image.contiguous());
  auto r = run_command(app("inpaint") + " demo --checkpoint " + checkpoint + " --image " +
                       (dir / "mine.png") + " --label 1 --mask_type center --num_samples 3 --steps 4 " +
                       "--threads 1 --output_dir " + (dir / "demo"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // One row per sample: original | masked | inpainted, titled, enlarged by a factor s, 2 px padding.
  auto grid = read_image(dir / "demo/comparison_center.png", 3);
  int64_t cell = (grid.size(2) - 2) / 3, s = (cell - 2) / 8, title = 14;
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{3, title + 3 * cell + 2, 3 * cell + 2}));
  auto expected = fit_images(image.unsqueeze(0), 8, "crop")[0];
  auto known = make_masks("center", 1, 8, 0)[0].to(torch::kBool).expand({3, 8, 8});
  auto cell_at = [&](int64_t row, int64_t col) {
    int64_t top = title + 2 + row * cell, left = 2 + col * cell;
    return grid.slice(1, top, top + 8 * s, s).slice(2, left, left + 8 * s, s);
  };
  for (int64_t row = 0; row < 3; ++row) {
    EXPECT_TRUE(torch::equal(cell_at(row, 0), expected)) << "row " << row;
    EXPECT_TRUE(torch::equal(cell_at(row, 2).masked_select(known), expected.masked_select(known))) << row;
  }
}
