// MeanFlow's JVP passes side by side: the check that `separate` and `fused` give one answer.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "flowlab/methods/meanflow.h"
#include "tiny_problem.h"

namespace flowlab::testing {

// jvp_inputs doubled to four rows: rows 0 and 3 have r < t, rows 1 and 2 r = t, so the separate
// pass has to put rows back in order.
inline JvpInputs mixed_jvp_rows(torch::Dtype dtype) {
  auto in = jvp_inputs(dtype);
  auto twice = [](const torch::Tensor& x) { return torch::cat({x, x}); };
  auto t = twice(in.t);
  return {twice(in.z), twice(in.v), torch::where(torch::tensor({true, false, false, true}), twice(in.r), t), t,
          twice(in.y)};
}

// meanflow_target on `in` through the separate and the fused pass (float64 model): expects a
// detached target, and the same u, target and gradients of sum((u - target)^2), relative to each
// gradient's largest entry (the passes sum rows in other orders). Returns the separate pass's.
inline MeanFlowTarget expect_jvp_passes_agree(Backbone& model, const JvpInputs& in, const std::string& label,
                                              const torch::Tensor& tangent = {}, const torch::Tensor& guidance = {}) {
  std::vector<MeanFlowTarget> results;
  std::vector<std::vector<torch::Tensor>> grads;
  for (const char* pass : {"separate", "fused"}) {
    model.zero_grad();
    auto result = meanflow_target(model, in.z, in.v, in.r, in.t, in.y, pass, tangent, guidance);
    EXPECT_FALSE(result.target.requires_grad()) << label << " " << pass;
    (result.u - result.target).pow(2).sum().backward();
    results.push_back(result);
    grads.emplace_back();
    for (const auto& p : model.parameters())
      grads.back().push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  }
  EXPECT_TRUE(torch::allclose(results[0].u, results[1].u, 1e-10, 1e-12)) << label;
  EXPECT_TRUE(torch::allclose(results[0].target, results[1].target, 1e-9, 1e-12)) << label;
  for (size_t i = 0; i < grads[0].size(); ++i)
    EXPECT_LE((grads[0][i] - grads[1][i]).abs().max().item<double>(),
              1e-9 * (1e-3 + grads[0][i].abs().max().item<double>()))
        << label << " parameter " << i;
  return results[0];
}

}  // namespace flowlab::testing
