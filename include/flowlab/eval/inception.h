// InceptionV3 in the FID variant of pytorch-fid (the 2015-12-05 TensorFlow graph ported to
// PyTorch): torchvision's Inception3 layout with 1008-class weights, average pools that exclude
// padding in Mixed_5x/6x/7b, and a 3x3 max pool in Mixed_7c's pool branch. Parameter names equal
// the keys of pytorch-fid's pt_inception-2015-12-05-6726825d.pth ("Mixed_6b.branch7x7_2.conv.weight").
#pragma once
#include <torch/torch.h>

#include <string>

namespace flowlab {

struct InceptionFeatures {
  torch::Tensor pool3;    // (N, 2048): the FID features
  torch::Tensor block64;  // (N, 64), (N, 192), (N, 768): earlier blocks, average-pooled
  torch::Tensor block192;
  torch::Tensor block768;
};

namespace detail {

// conv (no bias) -> BatchNorm(eps 1e-3) -> ReLU; children "conv" and "bn".
class BasicConv2dImpl : public torch::nn::Module {
 public:
  BasicConv2dImpl(int64_t in, int64_t out, torch::ExpandingArray<2> kernel,
                  torch::ExpandingArray<2> stride = 1, torch::ExpandingArray<2> padding = 0);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(BasicConv2d);

// A Mixed_* block: parallel branches concatenated along channels.
class InceptionBlock : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
};

}  // namespace detail

class FidInceptionV3Impl : public torch::nn::Module {
 public:
  FidInceptionV3Impl();
  // images: (N, 3, H, W) in [0, 1], any size; resized to 299x299 (bilinear,
  // align_corners=false) and mapped to [-1, 1] inside.
  InceptionFeatures forward(const torch::Tensor& images);
  // pool3 (N, 2048) -> the 1008-way classifier's logits without its bias (N, 1008), as the
  // Inception Score takes them. Error when the loaded weights had no classifier.
  torch::Tensor class_logits(const torch::Tensor& pool3) const;
  bool has_classifier = true;  // false: the weight file had no fc.weight

 private:
  detail::BasicConv2d Conv2d_1a_3x3{nullptr}, Conv2d_2a_3x3{nullptr}, Conv2d_2b_3x3{nullptr},
      Conv2d_3b_1x1{nullptr}, Conv2d_4a_3x3{nullptr};
  std::vector<std::shared_ptr<detail::InceptionBlock>> mixed_5to6;  // Mixed_5b .. Mixed_6e
  std::vector<std::shared_ptr<detail::InceptionBlock>> mixed_7;     // Mixed_7a .. Mixed_7c
  torch::nn::Linear fc{nullptr};                                     // 2048 -> 1008
};
TORCH_MODULE(FidInceptionV3);

// Loads a weight file written by scripts/pytorch/convert_inception_weights.py (a torch.save'd dict of
// name -> tensor). Every parameter and BatchNorm statistic must be present with its shape, but
// the classifier (fc.*), which files converted before the Inception Score was added lack; unknown
// keys are errors. Missing file: the Error says where the weights come from and how to convert them.
void load_inception_weights(FidInceptionV3& model, const std::string& path);

// Fixed pseudo-random weights from hashed_uniform(element count, tensor index in sorted name
// order), as scripts/fixtures/make_fid_fixtures.py sets them: He-scaled convolutions, BatchNorm
// near identity. For tests and `evaluate_fid --random_weights` smoke runs; FIDs computed with
// them are not comparable with published numbers.
void set_inception_test_weights(FidInceptionV3& model);

}  // namespace flowlab
