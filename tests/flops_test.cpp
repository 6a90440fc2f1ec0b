// FLOP accounting (models/flops.h) against counts written out by hand from the layers' shapes:
// 2 FLOPs per multiply-add, normalisation apart at 5 per element.
#include <gtest/gtest.h>

#include "flowlab/models/attention.h"
#include "flowlab/models/flops.h"
#include "flowlab/models/tiny_unet.h"

using namespace flowlab;

namespace {

// A k x k convolution from c_in to c_out channels over an h x w output, per image.
double conv(double c_in, double c_out, double k, double hw) { return 2 * c_in * c_out * k * k * hw; }
double linear(double in, double out) { return 2 * in * out; }
// Self-attention's two products over n positions with `heads` heads of width d.
double attention(double heads, double n, double d) { return 2 * 2 * heads * n * n * d; }

}  // namespace

TEST(Flops, ConvolutionsPlainStridedGroupedAndTransposed) {
  torch::NoGradGuard no_grad;
  auto x = torch::randn({2, 4, 9, 9});
  torch::nn::Conv2d plain(torch::nn::Conv2dOptions(4, 8, 3).padding(1));
  EXPECT_DOUBLE_EQ(count_flops([&] { plain(x); }).matmul, 2 * conv(4, 8, 3, 81));
  torch::nn::Conv2d strided(torch::nn::Conv2dOptions(4, 8, 3).stride(2).padding(1));  // 9 -> 5
  EXPECT_DOUBLE_EQ(count_flops([&] { strided(x); }).matmul, 2 * conv(4, 8, 3, 25));
  torch::nn::Conv2d grouped(torch::nn::Conv2dOptions(4, 8, 1).groups(2));  // each output sees 2 inputs
  EXPECT_DOUBLE_EQ(count_flops([&] { grouped(x); }).matmul, 2 * conv(2, 8, 1, 81));
  torch::nn::ConvTranspose2d up(torch::nn::ConvTranspose2dOptions(4, 6, 2).stride(2));  // 9 -> 18
  EXPECT_DOUBLE_EQ(count_flops([&] { up(x); }).matmul, 2 * 2.0 * 4 * 81 * 6 * 4);
}

TEST(Flops, LinearLayersOnRowsAndOnTokens) {
  torch::NoGradGuard no_grad;
  torch::nn::Linear layer(5, 7);
  EXPECT_DOUBLE_EQ(count_flops([&] { layer(torch::randn({4, 5})); }).matmul, 4 * linear(5, 7));
  EXPECT_DOUBLE_EQ(count_flops([&] { layer(torch::randn({2, 3, 5})); }).matmul, 6 * linear(5, 7));
  torch::nn::Linear no_bias(torch::nn::LinearOptions(5, 7).bias(false));
  EXPECT_DOUBLE_EQ(count_flops([&] { no_bias(torch::randn({4, 5})); }).matmul, 4 * linear(5, 7));
}

TEST(Flops, AttentionsTwoProductsAndNormalisationApart) {
  torch::NoGradGuard no_grad;
  auto q = torch::randn({3, 2, 16, 8}), k = torch::randn({3, 2, 16, 8}), v = torch::randn({3, 2, 16, 8});
  auto counted = count_flops([&] { dot_product_attention(q, k, v); });
  EXPECT_DOUBLE_EQ(counted.matmul, 3 * attention(2, 16, 8));
  EXPECT_DOUBLE_EQ(counted.normalisation, 0.0);

  torch::nn::GroupNorm norm(torch::nn::GroupNormOptions(4, 8));
  torch::nn::LayerNorm layer_norm(torch::nn::LayerNormOptions({8}));
  auto x = torch::randn({2, 8, 4, 4});
  auto normed = count_flops([&] { norm(x); });
  EXPECT_DOUBLE_EQ(normed.normalisation, 5.0 * 256);
  EXPECT_DOUBLE_EQ(normed.matmul, 0.0);
  EXPECT_DOUBLE_EQ(count_flops([&] { layer_norm(torch::randn({2, 3, 8})); }).normalisation, 5.0 * 48);
}

// A two-level TinyUNet, every layer written out from its architecture (models/tiny_unet.h).
TEST(Flops, AWholeTinyUNetEqualsItsLayersCountedByHand) {
  TinyUNetOptions o;
  o.in_channels = 3;
  o.image_size = 8;
  o.base_channels = 8;
  o.channel_mults = {1, 2};
  o.num_res_blocks = 1;
  o.time_embed_dim = 16;
  o.num_classes = 2;
  o.attention_resolutions = {4};
  o.num_heads = 2;
  TinyUNet model(o);
  const double big = 64, small = 16;  // 8x8 and 4x4 positions
  // A residual block: two 3x3 convolutions, the conditioning's linear (16 -> 2 out), and a 1x1
  // skip when the channels change; its two GroupNorms.
  auto res = [&](double in, double out, double hw) {
    return conv(in, out, 3, hw) + conv(out, out, 3, hw) + linear(16, 2 * out) + (in != out ? conv(in, out, 1, hw) : 0);
  };
  auto res_norm = [&](double in, double out, double hw) { return 5 * (in + out) * hw; };
  // An attention block at 4x4 on 16 channels: qkv and proj 1x1 convolutions, 2 heads of 8.
  double attn = conv(16, 48, 1, small) + attention(2, small, 8) + conv(16, 16, 1, small);
  double attn_norm = 5 * 16 * small;
  double expected = linear(16, 16) + linear(16, 16)  // the time embedder's MLP
                    + conv(3, 8, 3, big)              // conv_in
                    + res(8, 8, big) + conv(8, 8, 3, small)      // level 8: block, stride-2 downsample
                    + res(8, 16, small) + attn                   // level 4: block, attention
                    + res(16, 16, small) + attn + res(16, 16, small)  // middle
                    + res(32, 16, small) + attn + res(24, 16, small) + attn  // up, level 4
                    + conv(16, 16, 3, big)                                   // upsample's conv
                    + res(24, 8, big) + res(16, 8, big)                      // up, level 8
                    + conv(8, 3, 3, big);                                    // out_conv
  double expected_norm = res_norm(8, 8, big) + res_norm(8, 16, small) + attn_norm + 2 * res_norm(16, 16, small) +
                         attn_norm + res_norm(32, 16, small) + res_norm(24, 16, small) + 2 * attn_norm +
                         res_norm(24, 8, big) + res_norm(16, 8, big) + 5 * 8 * big;
  auto counted = forward_flops(model, 3, 8);
  EXPECT_DOUBLE_EQ(counted.matmul, expected);
  EXPECT_DOUBLE_EQ(counted.normalisation, expected_norm);
}

// A one-level autoencoder at 4x4 (16 positions, 8 channels, 4 latent channels), every layer
// written out from its architecture (models/autoencoder_kl.h).
TEST(Flops, AOneLevelAutoencodersEncodeAndDecodeEqualTheirLayersCountedByHand) {
  AutoencoderKLOptions o;
  o.in_channels = 3;
  o.block_out_channels = {8};
  o.layers_per_block = 1;
  o.norm_groups = 4;
  o.latent_channels = 4;
  AutoencoderKL vae(o);
  const double hw = 16;
  double resnet = 2 * conv(8, 8, 3, hw), resnet_norm = 5 * (8 + 8) * hw;
  // One head of width 8 over 16 tokens: q, k, v and out projections, and the two products.
  double attn = 4 * hw * linear(8, 8) + attention(1, hw, 8), attn_norm = 5 * 8 * hw;
  double mid = 2 * resnet + attn, mid_norm = 2 * resnet_norm + attn_norm;
  double encode = conv(3, 8, 3, hw) + resnet + mid + conv(8, 2 * 4, 3, hw) + conv(8, 8, 1, hw);
  double decode = conv(4, 4, 1, hw) + conv(4, 8, 3, hw) + mid + 2 * resnet + conv(8, 3, 3, hw);
  auto counted = autoencoder_flops(vae, 3, 4);
  EXPECT_DOUBLE_EQ(counted.encode.matmul, encode);
  EXPECT_DOUBLE_EQ(counted.decode.matmul, decode);
  EXPECT_DOUBLE_EQ(counted.encode.normalisation, resnet_norm + mid_norm + 5 * 8 * hw);
  EXPECT_DOUBLE_EQ(counted.decode.normalisation, mid_norm + 2 * resnet_norm + 5 * 8 * hw);
}
