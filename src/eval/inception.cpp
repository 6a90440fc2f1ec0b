#include "flowlab/eval/inception.h"

#include <fstream>
#include <map>
#include <set>

#include "flowlab/error.h"
#include "flowlab/hashed_uniform.h"
#include "flowlab/strings.h"
#include "flowlab/io/files.h"

namespace flowlab {
namespace F = torch::nn::functional;

namespace detail {

BasicConv2dImpl::BasicConv2dImpl(int64_t in, int64_t out, torch::ExpandingArray<2> kernel,
                                 torch::ExpandingArray<2> stride, torch::ExpandingArray<2> padding) {
  conv = register_module(
      "conv", torch::nn::Conv2d(
                  torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false)));
  bn = register_module("bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out).eps(1e-3)));
}

torch::Tensor BasicConv2dImpl::forward(const torch::Tensor& x) { return torch::relu(bn(conv(x))); }

namespace {

// 3x3 average pool, stride 1, padding 1, without the padded zeros in the mean (pytorch-fid's
// FIDInceptionA/C/E_1; torchvision's blocks count them).
torch::Tensor avg_pool_3x3(const torch::Tensor& x) {
  return F::avg_pool2d(x, F::AvgPool2dFuncOptions(3).stride(1).padding(1).count_include_pad(false));
}

torch::Tensor max_pool_3x3_stride2(const torch::Tensor& x) {
  return F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2));
}

class Block : public InceptionBlock {
 protected:
  BasicConv2d conv(const std::string& name, int64_t in, int64_t out,
                   torch::ExpandingArray<2> kernel, torch::ExpandingArray<2> stride = 1,
                   torch::ExpandingArray<2> padding = 0) {
    return register_module(name, BasicConv2d(in, out, kernel, stride, padding));
  }
};

// Mixed_5b/5c/5d.
class InceptionA : public Block {
 public:
  InceptionA(int64_t in, int64_t pool_features) {
    b1x1 = conv("branch1x1", in, 64, 1);
    b5x5_1 = conv("branch5x5_1", in, 48, 1);
    b5x5_2 = conv("branch5x5_2", 48, 64, 5, 1, 2);
    b3x3dbl_1 = conv("branch3x3dbl_1", in, 64, 1);
    b3x3dbl_2 = conv("branch3x3dbl_2", 64, 96, 3, 1, 1);
    b3x3dbl_3 = conv("branch3x3dbl_3", 96, 96, 3, 1, 1);
    bpool = conv("branch_pool", in, pool_features, 1);
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    return torch::cat({b1x1(x), b5x5_2(b5x5_1(x)), b3x3dbl_3(b3x3dbl_2(b3x3dbl_1(x))),
                       bpool(avg_pool_3x3(x))}, 1);
  }

 private:
  BasicConv2d b1x1{nullptr}, b5x5_1{nullptr}, b5x5_2{nullptr}, b3x3dbl_1{nullptr},
      b3x3dbl_2{nullptr}, b3x3dbl_3{nullptr}, bpool{nullptr};
};

// Mixed_6a.
class InceptionB : public Block {
 public:
  explicit InceptionB(int64_t in) {
    b3x3 = conv("branch3x3", in, 384, 3, 2);
    b3x3dbl_1 = conv("branch3x3dbl_1", in, 64, 1);
    b3x3dbl_2 = conv("branch3x3dbl_2", 64, 96, 3, 1, 1);
    b3x3dbl_3 = conv("branch3x3dbl_3", 96, 96, 3, 2);
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    return torch::cat({b3x3(x), b3x3dbl_3(b3x3dbl_2(b3x3dbl_1(x))), max_pool_3x3_stride2(x)}, 1);
  }

 private:
  BasicConv2d b3x3{nullptr}, b3x3dbl_1{nullptr}, b3x3dbl_2{nullptr}, b3x3dbl_3{nullptr};
};

// Mixed_6b..6e: factorised 7x7 convolutions with c7 middle channels.
class InceptionC : public Block {
 public:
  InceptionC(int64_t in, int64_t c7) {
    using E = torch::ExpandingArray<2>;
    b1x1 = conv("branch1x1", in, 192, 1);
    b7x7_1 = conv("branch7x7_1", in, c7, 1);
    b7x7_2 = conv("branch7x7_2", c7, c7, E({1, 7}), 1, E({0, 3}));
    b7x7_3 = conv("branch7x7_3", c7, 192, E({7, 1}), 1, E({3, 0}));
    b7x7dbl_1 = conv("branch7x7dbl_1", in, c7, 1);
    b7x7dbl_2 = conv("branch7x7dbl_2", c7, c7, E({7, 1}), 1, E({3, 0}));
    b7x7dbl_3 = conv("branch7x7dbl_3", c7, c7, E({1, 7}), 1, E({0, 3}));
    b7x7dbl_4 = conv("branch7x7dbl_4", c7, c7, E({7, 1}), 1, E({3, 0}));
    b7x7dbl_5 = conv("branch7x7dbl_5", c7, 192, E({1, 7}), 1, E({0, 3}));
    bpool = conv("branch_pool", in, 192, 1);
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    auto dbl = b7x7dbl_5(b7x7dbl_4(b7x7dbl_3(b7x7dbl_2(b7x7dbl_1(x)))));
    return torch::cat({b1x1(x), b7x7_3(b7x7_2(b7x7_1(x))), dbl, bpool(avg_pool_3x3(x))}, 1);
  }

 private:
  BasicConv2d b1x1{nullptr}, b7x7_1{nullptr}, b7x7_2{nullptr}, b7x7_3{nullptr},
      b7x7dbl_1{nullptr}, b7x7dbl_2{nullptr}, b7x7dbl_3{nullptr}, b7x7dbl_4{nullptr},
      b7x7dbl_5{nullptr}, bpool{nullptr};
};

// Mixed_7a.
class InceptionD : public Block {
 public:
  explicit InceptionD(int64_t in) {
    using E = torch::ExpandingArray<2>;
    b3x3_1 = conv("branch3x3_1", in, 192, 1);
    b3x3_2 = conv("branch3x3_2", 192, 320, 3, 2);
    b7x7x3_1 = conv("branch7x7x3_1", in, 192, 1);
    b7x7x3_2 = conv("branch7x7x3_2", 192, 192, E({1, 7}), 1, E({0, 3}));
    b7x7x3_3 = conv("branch7x7x3_3", 192, 192, E({7, 1}), 1, E({3, 0}));
    b7x7x3_4 = conv("branch7x7x3_4", 192, 192, 3, 2);
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    return torch::cat({b3x3_2(b3x3_1(x)), b7x7x3_4(b7x7x3_3(b7x7x3_2(b7x7x3_1(x)))),
                       max_pool_3x3_stride2(x)}, 1);
  }

 private:
  BasicConv2d b3x3_1{nullptr}, b3x3_2{nullptr}, b7x7x3_1{nullptr}, b7x7x3_2{nullptr},
      b7x7x3_3{nullptr}, b7x7x3_4{nullptr};
};

// Mixed_7b (average pool without padding) and Mixed_7c (3x3 max pool, stride 1).
class InceptionE : public Block {
 public:
  InceptionE(int64_t in, bool max_pool) : max_pool_(max_pool) {
    using E = torch::ExpandingArray<2>;
    b1x1 = conv("branch1x1", in, 320, 1);
    b3x3_1 = conv("branch3x3_1", in, 384, 1);
    b3x3_2a = conv("branch3x3_2a", 384, 384, E({1, 3}), 1, E({0, 1}));
    b3x3_2b = conv("branch3x3_2b", 384, 384, E({3, 1}), 1, E({1, 0}));
    b3x3dbl_1 = conv("branch3x3dbl_1", in, 448, 1);
    b3x3dbl_2 = conv("branch3x3dbl_2", 448, 384, 3, 1, 1);
    b3x3dbl_3a = conv("branch3x3dbl_3a", 384, 384, E({1, 3}), 1, E({0, 1}));
    b3x3dbl_3b = conv("branch3x3dbl_3b", 384, 384, E({3, 1}), 1, E({1, 0}));
    bpool = conv("branch_pool", in, 192, 1);
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    auto b3 = b3x3_1(x);
    auto dbl = b3x3dbl_2(b3x3dbl_1(x));
    auto pooled = max_pool_ ? F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(1).padding(1))
                            : avg_pool_3x3(x);
    return torch::cat({b1x1(x), torch::cat({b3x3_2a(b3), b3x3_2b(b3)}, 1),
                       torch::cat({b3x3dbl_3a(dbl), b3x3dbl_3b(dbl)}, 1), bpool(pooled)}, 1);
  }

 private:
  bool max_pool_;
  BasicConv2d b1x1{nullptr}, b3x3_1{nullptr}, b3x3_2a{nullptr}, b3x3_2b{nullptr},
      b3x3dbl_1{nullptr}, b3x3dbl_2{nullptr}, b3x3dbl_3a{nullptr}, b3x3dbl_3b{nullptr},
      bpool{nullptr};
};

}  // namespace
}  // namespace detail

FidInceptionV3Impl::FidInceptionV3Impl() {
  using detail::BasicConv2d;
  Conv2d_1a_3x3 = register_module("Conv2d_1a_3x3", BasicConv2d(3, 32, 3, 2));
  Conv2d_2a_3x3 = register_module("Conv2d_2a_3x3", BasicConv2d(32, 32, 3));
  Conv2d_2b_3x3 = register_module("Conv2d_2b_3x3", BasicConv2d(32, 64, 3, 1, 1));
  Conv2d_3b_1x1 = register_module("Conv2d_3b_1x1", BasicConv2d(64, 80, 1));
  Conv2d_4a_3x3 = register_module("Conv2d_4a_3x3", BasicConv2d(80, 192, 3));
  auto add = [this](std::vector<std::shared_ptr<detail::InceptionBlock>>& list,
                    const std::string& name, std::shared_ptr<detail::InceptionBlock> block) {
    list.push_back(register_module(name, std::move(block)));
  };
  add(mixed_5to6, "Mixed_5b", std::make_shared<detail::InceptionA>(192, 32));
  add(mixed_5to6, "Mixed_5c", std::make_shared<detail::InceptionA>(256, 64));
  add(mixed_5to6, "Mixed_5d", std::make_shared<detail::InceptionA>(288, 64));
  add(mixed_5to6, "Mixed_6a", std::make_shared<detail::InceptionB>(288));
  add(mixed_5to6, "Mixed_6b", std::make_shared<detail::InceptionC>(768, 128));
  add(mixed_5to6, "Mixed_6c", std::make_shared<detail::InceptionC>(768, 160));
  add(mixed_5to6, "Mixed_6d", std::make_shared<detail::InceptionC>(768, 160));
  add(mixed_5to6, "Mixed_6e", std::make_shared<detail::InceptionC>(768, 192));
  add(mixed_7, "Mixed_7a", std::make_shared<detail::InceptionD>(768));
  add(mixed_7, "Mixed_7b", std::make_shared<detail::InceptionE>(1280, false));
  add(mixed_7, "Mixed_7c", std::make_shared<detail::InceptionE>(2048, true));
  fc = register_module("fc", torch::nn::Linear(2048, 1008));
}

torch::Tensor FidInceptionV3Impl::class_logits(const torch::Tensor& pool3) const {
  if (!has_classifier)
    throw Error("the Inception weights have no classifier (fc.weight), which the Inception Score "
                "needs; convert pt_inception-2015-12-05-6726825d.pth again with the current "
                "scripts/pytorch/convert_inception_weights.py");
  return torch::matmul(pool3, fc->weight.to(pool3.device()).t());
}

InceptionFeatures FidInceptionV3Impl::forward(const torch::Tensor& images) {
  auto pool = [](const torch::Tensor& x) { return x.mean({2, 3}); };
  auto x = F::interpolate(images, F::InterpolateFuncOptions()
                                      .size(std::vector<int64_t>{299, 299})
                                      .mode(torch::kBilinear)
                                      .align_corners(false));
  x = 2 * x - 1;
  InceptionFeatures out;
  x = detail::max_pool_3x3_stride2(Conv2d_2b_3x3(Conv2d_2a_3x3(Conv2d_1a_3x3(x))));
  out.block64 = pool(x);
  x = detail::max_pool_3x3_stride2(Conv2d_4a_3x3(Conv2d_3b_1x1(x)));
  out.block192 = pool(x);
  for (auto& block : mixed_5to6) x = block->forward(x);
  out.block768 = pool(x);
  for (auto& block : mixed_7) x = block->forward(x);
  out.pool3 = pool(x);
  return out;
}

void load_inception_weights(FidInceptionV3& model, const std::string& path) {
  if (!std::ifstream(path).good())
    throw Error("Inception weights not found at " + path +
                ". Download pytorch-fid's pt_inception-2015-12-05-6726825d.pth (github.com/"
                "mseitzer/pytorch-fid/releases, tag fid_weights) and convert it with "
                "'python3 scripts/pytorch/convert_inception_weights.py pt_inception-2015-12-05-6726825d.pth " +
                path + "'");
  c10::IValue loaded;
  try {
    auto bytes = read_file_bytes(path);
    loaded = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const c10::Error&) {
    throw Error(path + ": not a weight file written by scripts/pytorch/convert_inception_weights.py");
  }
  if (!loaded.isGenericDict()) throw Error(path + ": expected a dict of name -> tensor");
  std::map<std::string, torch::Tensor> file;
  for (const auto& entry : loaded.toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor())
      throw Error(path + ": expected a dict of name -> tensor");
    file[entry.key().toStringRef()] = entry.value().toTensor();
  }
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  model->has_classifier = file.count("fc.weight") > 0;
  auto assign = [&](const std::string& name, torch::Tensor& target) {
    auto it = file.find(name);
    if (it == file.end() && name.rfind("fc.", 0) == 0 && !model->has_classifier) return;
    if (it == file.end()) throw Error(path + ": missing tensor " + name);
    if (it->second.sizes() != target.sizes())
      throw Error(path + ": tensor " + name + " has shape " + c10::str(it->second.sizes()) +
                  ", expected " + c10::str(target.sizes()));
    target.copy_(it->second);
    used.insert(name);
  };
  for (auto& p : model->named_parameters()) assign(p.key(), p.value());
  for (auto& b : model->named_buffers())
    if (b.key().find("num_batches_tracked") == std::string::npos) assign(b.key(), b.value());
  for (const auto& [name, tensor] : file)
    if (!used.count(name) && name.find("num_batches_tracked") == std::string::npos)
      throw Error(path + ": unexpected tensor " + name + " (not an FID InceptionV3 weight file?)");
}

void set_inception_test_weights(FidInceptionV3& model) {
  std::map<std::string, torch::Tensor> state;  // sorted by name, as the Python script sorts
  for (auto& p : model->named_parameters()) state[p.key()] = p.value();
  for (auto& b : model->named_buffers())
    if (b.key().find("num_batches_tracked") == std::string::npos) state[b.key()] = b.value();
  torch::NoGradGuard no_grad;
  model->has_classifier = true;
  int64_t k = 0;
  for (auto& [name, tensor] : state) {
    auto u = hashed_uniform(tensor.numel(), k++).reshape(tensor.sizes());
    torch::Tensor value;
    if (ends_with(name, "conv.weight")) value = u * std::sqrt(6.0 / double(tensor[0].numel()));
    else if (ends_with(name, "bn.weight")) value = 1 + 0.2 * u;
    else if (ends_with(name, "bn.bias") || ends_with(name, "running_mean")) value = 0.2 * u;
    else if (ends_with(name, "running_var")) value = 1 + 0.25 * (u + 1);
    else if (name == "fc.weight") value = u * std::sqrt(6.0 / double(tensor.size(1)));
    else if (name == "fc.bias") value = 0.2 * u;
    else throw Error("set_inception_test_weights: unexpected tensor " + name);
    tensor.copy_(value);
  }
}

}  // namespace flowlab
