// Networks as their authors release them, imported into flowlab checkpoints:
//   dit:  DiT (Peebles & Xie 2023), DDPM over 1,000 linear-beta steps, epsilon and a learned variance;
//   sit:  SiT (Ma et al. 2024), the same network trained as a flow in SiT's time (0 = noise);
//   repa: REPA's SiT (Yu et al. 2025), in flowlab's time, with projector heads used only in training.
// Each is a torch.save file of its state dict under the authors' names (x_embedder.proj, pos_embed,
// t_embedder.mlp, y_embedder.embedding_table, blocks.N.{attn,mlp,adaLN_modulation},
// final_layer.{linear,adaLN_modulation}); its sizes are read from the tensors. The names map onto
// flowlab's DiT in one table (published_models.cpp), and model.convention records how the time it
// takes and the output it gives differ from flowlab's.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "flowlab/config.h"

namespace flowlab {

struct ImportRequest {
  std::string format;   // dit | sit | repa
  std::string weights;  // the authors' .pt file
  std::string vae;      // optional: the autoencoder (a file, or a diffusers folder) its latents decode with
  int num_heads = 0;    // 0: from DiT's named sizes by the width (S 6, B 12, L 16, XL 16)
};

struct ImportedModel {
  // The config the authors sample with: model (sizes, convention), data.image_size (the latent
  // side), the method and its sampling protocol; the autoencoder when one was given.
  Config config;
  std::map<std::string, torch::Tensor> weights;  // flowlab's names and layouts
  int64_t published_parameters = 0;              // the file's tensors the network uses, pos_embed included
  std::vector<std::string> left_out;             // tensors of the file sampling does not use
};

// The formats import_published_model takes.
const std::vector<std::string>& published_formats();

// Reads, checks and maps a published file. Every problem is one Error naming the file and, where
// there is one, the tensor: not a torch.save file, a missing or unknown tensor, a shape that does
// not fit the others, a head count that does not divide the width.
ImportedModel import_published_model(const ImportRequest& request);
// The same from a state dict already read; `what` names it in errors.
ImportedModel import_published_tensors(std::map<std::string, torch::Tensor> tensors, const ImportRequest& request,
                                       const std::string& what);

}  // namespace flowlab
