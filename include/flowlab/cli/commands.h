// The command-line programs, as library functions; each app's main() calls one of these.
#pragma once
#include <string>

namespace flowlab {

// train_cfm / train_ddpm / train_meanflow / train_vae: `method` fixes method.name.
int train_command(int argc, char** argv, const std::string& method);
int generate_command(int argc, char** argv);
int show_dataset_command(int argc, char** argv);
int evaluate_command(int argc, char** argv);
int inpaint_command(int argc, char** argv);
int benchmark_command(int argc, char** argv);
int evaluate_vae_command(int argc, char** argv);
int encode_latents_command(int argc, char** argv);
int import_checkpoint_command(int argc, char** argv);

}  // namespace flowlab
