// FID/KID against golden values from scripts/fixtures/make_fid_fixtures.py (torchvision's Inception3 with
// pytorch-fid's FID blocks, scipy's sqrtm, torch-fidelity's MMD), closed forms, and .npz files.
#include <gtest/gtest.h>

#include <torch/script.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "flowlab/eval/features.h"
#include "flowlab/eval/fid.h"
#include "flowlab/eval/inception.h"
#include "flowlab/io/files.h"
#include "flowlab/io/npz.h"
#include "test_helpers.h"

using namespace flowlab;
using namespace flowlab::testing;

namespace {

const nlohmann::json& golden() {
  static const nlohmann::json g = [] {
    std::ifstream f(std::string(FLOWLAB_FIXTURES_DIR) + "/fid_golden.json");
    return nlohmann::json::parse(f);
  }();
  return g;
}

torch::Tensor matrix(const nlohmann::json& rows) {
  std::vector<double> flat;
  for (const auto& row : rows)
    for (double v : row) flat.push_back(v);
  return torch::tensor(flat, torch::kFloat64).reshape({static_cast<int64_t>(rows.size()), -1});
}

}  // namespace

TEST(Fid, InceptionFeaturesMatchThePythonReferenceNetwork) {
  torch::set_num_threads(1);
  const auto& g = golden()["inception"];
  std::vector<double> flat;
  for (const auto& image : g["images"])
    for (const auto& channel : image)
      for (const auto& row : channel)
        for (double v : row) flat.push_back(v);
  auto images = torch::tensor(flat, torch::kFloat64).reshape({2, 3, 32, 32}).to(torch::kFloat32);
  FidInceptionV3 net;
  set_inception_test_weights(net);
  net->eval();
  torch::NoGradGuard no_grad;
  auto f = net->forward(images);
  struct Case {
    const char* key;
    torch::Tensor value;
    int64_t dim;
  };
  for (const auto& c : {Case{"pool3", f.pool3, 2048}, Case{"block64", f.block64, 64},
                        Case{"block192", f.block192, 192}, Case{"block768", f.block768, 768}}) {
    auto expected = matrix(g[c.key]).to(torch::kFloat32);
    ASSERT_EQ(c.value.sizes(), (std::vector<int64_t>{2, c.dim})) << c.key;
    EXPECT_LT((c.value - expected).abs().max().item<double>(), 1e-4) << c.key;
  }
  // The two images give different features, so a mixed-up batch would fail the check above.
  EXPECT_GT((f.pool3[0] - f.pool3[1]).abs().max().item<double>(), 0.05);
  // The Inception Score's logits: pool3 times the classifier's weight, without its bias.
  auto logits = net->class_logits(f.pool3);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, 1008}));
  EXPECT_LT((logits - matrix(g["logits"]).to(torch::kFloat32)).abs().max().item<double>(), 1e-4);
}

TEST(Fid, ParameterNamesAreThoseOfPytorchFidWeights) {
  FidInceptionV3 net;
  auto params = net->named_parameters();
  EXPECT_TRUE(params.contains("Conv2d_1a_3x3.conv.weight"));
  EXPECT_TRUE(params.contains("Mixed_6b.branch7x7_2.conv.weight"));
  EXPECT_EQ(params["Mixed_6b.branch7x7_2.conv.weight"].sizes(), (std::vector<int64_t>{128, 128, 1, 7}));
  EXPECT_TRUE(params.contains("Mixed_7c.branch3x3dbl_3b.bn.bias"));
  EXPECT_TRUE(net->named_buffers().contains("Mixed_5b.branch_pool.bn.running_var"));
  EXPECT_EQ(params["fc.weight"].sizes(), (std::vector<int64_t>{1008, 2048}));
  // torchvision's Inception3 with 1008 classes and without the auxiliary head.
  int64_t count = 0;
  for (const auto& p : net->parameters()) count += p.numel();
  EXPECT_EQ(count, 23'850'960);  // counted in Python
}

TEST(Fid, MatchesScipySqrtmOnRandomAndRankDeficientCovariances) {
  for (const auto& c : golden()["fid_cases"]) {
    auto a = feature_statistics(matrix(c["a"])), b = feature_statistics(matrix(c["b"]));
    double expected = c["fid"];
    EXPECT_NEAR(frechet_distance(a, b), expected, 1e-6 * std::abs(expected)) << c["name"];
  }
}

TEST(Fid, ClosedForms) {
  torch::manual_seed(0);
  auto f = torch::randn({500, 6}, torch::kFloat64);
  auto s = feature_statistics(f);
  EXPECT_NEAR(frechet_distance(s, s), 0.0, 1e-9);
  FeatureStatistics a{torch::zeros({6}, torch::kFloat64), torch::eye(6, torch::kFloat64), 10};
  FeatureStatistics b{torch::full({6}, 0.5, torch::kFloat64), torch::eye(6, torch::kFloat64), 10};
  EXPECT_NEAR(frechet_distance(a, b), 6 * 0.25, 1e-12);
  // Covariance divides by N - 1 and the accumulator's batches change nothing.
  StatisticsAccumulator acc;
  acc.add(f.slice(0, 0, 123));
  acc.add(f.slice(0, 123, 500));
  auto streamed = acc.finish();
  auto centred = f - f.mean(0);
  EXPECT_TRUE(torch::allclose(streamed.sigma, centred.t().mm(centred) / 499.0, 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(streamed.mu, f.mean(0), 1e-12, 1e-12));
}

TEST(Fid, KidMatchesNumpyOnGivenFeatures) {
  const auto& k = golden()["kid"];
  auto x = matrix(k["x"]), y = matrix(k["y"]);
  // One subset holding every feature: the subset draw no longer matters.
  auto result = kernel_inception_distance(x, y, 3, 1000, 7);
  double expected = k["mmd2"];
  EXPECT_NEAR(result.mean, expected, 1e-9 * std::abs(expected));
  EXPECT_NEAR(result.std, 0.0, 1e-12);
  EXPECT_EQ(result.subset_size, 25);
  // Same distribution: KID near 0; seeded subsets are reproducible.
  torch::manual_seed(1);
  auto p = torch::randn({400, 8}, torch::kFloat64), q = torch::randn({400, 8}, torch::kFloat64);
  auto same = kernel_inception_distance(p, q, 20, 100, 5);
  EXPECT_LT(std::abs(same.mean), 3 * same.std + 1e-3);
  EXPECT_EQ(same.mean, kernel_inception_distance(p, q, 20, 100, 5).mean);
}

TEST(Fid, NpzFilesFromNumpyAndRoundTrip) {
  for (const char* name : {"stats_plain.npz", "stats_compressed.npz"}) {
    auto arrays = read_npz(std::string(FLOWLAB_FIXTURES_DIR) + "/" + name);
    ASSERT_TRUE(arrays.count("mu") && arrays.count("sigma")) << name;
    EXPECT_TRUE(torch::equal(arrays["mu"].to(torch::kFloat64), torch::arange(4, torch::kFloat64)));
    // The compressed file stores sigma in Fortran order; values must come back in C order.
    EXPECT_TRUE(torch::equal(arrays["sigma"], torch::arange(16, torch::kFloat64).reshape({4, 4})))
        << name;
  }
  TempDir dir;
  auto path = dir.path() + "/stats.npz";
  auto sigma = torch::randn({5, 5}, torch::kFloat64);
  write_npz(path, {{"mu", torch::arange(5, torch::kFloat64)}, {"sigma", sigma},
                   {"features", torch::ones({3, 2})}});
  auto back = read_npz(path);
  EXPECT_TRUE(torch::equal(back["sigma"], sigma));
  EXPECT_EQ(back["features"].scalar_type(), torch::kFloat32);
  EXPECT_EQ(back["features"].sizes(), (std::vector<int64_t>{3, 2}));
}

TEST(Fid, TruncatedNpzIsAClearError) {
  TempDir dir;
  auto bytes = read_file_bytes(std::string(FLOWLAB_FIXTURES_DIR) + "/stats_plain.npz");
  auto path = dir.path() + "/cut.npz";
  write_bytes(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2));
  auto message = error_of([&] { read_npz(path); });
  EXPECT_NE(message.find("cut.npz"), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST(Fid, MissingWeightsSayWhereToGetThem) {
  FidInceptionV3 net;
  auto message = error_of([&] { load_inception_weights(net, "/nonexistent/inception.pt"); });
  EXPECT_NE(message.find("pt_inception-2015-12-05-6726825d.pth"), std::string::npos) << message;
  EXPECT_NE(message.find("convert_inception_weights.py"), std::string::npos) << message;
}

TEST(Fid, WeightFileLoadsAndWrongShapesOrNamesAreErrors) {
  TempDir dir;
  FidInceptionV3 source;
  set_inception_test_weights(source);
  auto save = [&](const std::string& path, const std::function<void(c10::Dict<std::string, torch::Tensor>&)>& edit) {
    c10::Dict<std::string, torch::Tensor> dict;
    for (const auto& p : source->named_parameters()) dict.insert(p.key(), p.value().detach());
    for (const auto& b : source->named_buffers())
      if (b.key().find("num_batches_tracked") == std::string::npos) dict.insert(b.key(), b.value());
    edit(dict);
    auto bytes = torch::pickle_save(c10::IValue(dict));
    write_bytes(path, std::vector<uint8_t>(bytes.begin(), bytes.end()));
  };
  auto good = dir.path() + "/good.pt";
  save(good, [](auto&) {});
  FidInceptionV3 loaded;
  load_inception_weights(loaded, good);
  EXPECT_TRUE(loaded->has_classifier);
  EXPECT_TRUE(torch::equal(loaded->named_parameters()["fc.weight"], source->named_parameters()["fc.weight"]));
  EXPECT_TRUE(torch::equal(loaded->named_parameters()["Mixed_7c.branch_pool.conv.weight"],
                           source->named_parameters()["Mixed_7c.branch_pool.conv.weight"]));
  EXPECT_TRUE(torch::equal(loaded->named_buffers()["Mixed_6e.branch1x1.bn.running_var"],
                           source->named_buffers()["Mixed_6e.branch1x1.bn.running_var"]));

  auto wrong_shape = dir.path() + "/shape.pt";
  save(wrong_shape, [](auto& d) { d.insert_or_assign("Conv2d_1a_3x3.conv.weight", torch::zeros({32, 3, 5, 5})); });
  auto message = error_of([&] { load_inception_weights(loaded, wrong_shape); });
  EXPECT_NE(message.find("Conv2d_1a_3x3.conv.weight has shape [32, 3, 5, 5]"), std::string::npos) << message;

  auto extra = dir.path() + "/extra.pt";
  save(extra, [](auto& d) { d.insert("AuxLogits.conv0.conv.weight", torch::zeros({1})); });
  message = error_of([&] { load_inception_weights(loaded, extra); });
  EXPECT_NE(message.find("unexpected tensor AuxLogits.conv0.conv.weight"), std::string::npos) << message;

  auto missing = dir.path() + "/missing.pt";
  save(missing, [](auto& d) { EXPECT_EQ(d.erase("Mixed_5b.branch1x1.bn.bias"), 1u); });
  message = error_of([&] { load_inception_weights(loaded, missing); });
  EXPECT_NE(message.find("missing tensor Mixed_5b.branch1x1.bn.bias"), std::string::npos) << message;

  // A file converted before the classifier was kept: FID works, the Inception Score says what to do.
  auto without_classifier = dir.path() + "/no_fc.pt";
  save(without_classifier, [](auto& d) {
    d.erase("fc.weight");
    d.erase("fc.bias");
  });
  load_inception_weights(loaded, without_classifier);
  EXPECT_FALSE(loaded->has_classifier);
  message = error_of([&] { loaded->class_logits(torch::zeros({1, 2048})); });
  EXPECT_NE(message.find("convert pt_inception-2015-12-05-6726825d.pth again"), std::string::npos) << message;

  auto garbage = dir.path() + "/garbage.pt";
  write_text(garbage, "not a weight file");
  message = error_of([&] { load_inception_weights(loaded, garbage); });
  EXPECT_NE(message.find("not a weight file"), std::string::npos) << message;
}

TEST(Fid, TorchScriptFeatureExtractor) {
  TempDir dir;
  torch::jit::Module module("features");
  module.define(R"(
def forward(self, x):
    return x.mean([2, 3]) * 2.0
)");
  module.save(dir.path() + "/f.pt");
  auto extractor = make_torchscript_extractor(dir.path() + "/f.pt", torch::kCPU);
  EXPECT_EQ(extractor->name(), "f");  // the file's name without its extension
  EXPECT_EQ(extractor->metric_name(), "FD_f");
  module.register_attribute("feature_name", c10::StringType::get(), std::string("mean_colour"));
  module.save(dir.path() + "/named.pt");
  EXPECT_EQ(make_torchscript_extractor(dir.path() + "/named.pt", torch::kCPU)->metric_name(), "FD_mean_colour");
  EXPECT_EQ(make_inception_extractor("random", torch::kCPU)->metric_name(), "FID");
  auto images = torch::rand({4, 1, 8, 8});  // grey images are repeated to three channels
  auto f = extractor->features(images);
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{4, 3}));
  EXPECT_TRUE(torch::allclose(f.select(1, 2), images.mean({1, 2, 3}) * 2));
  write_text(dir.path() + "/bad.pt", "no");
  EXPECT_NE(error_of([&] { make_torchscript_extractor(dir.path() + "/bad.pt", torch::kCPU); })
                .find("not a TorchScript module"),
            std::string::npos);
}
