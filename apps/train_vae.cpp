// train_vae: train an AutoencoderKL (see --help).
#include "flowlab/cli/commands.h"
#include "flowlab/error.h"

int main(int argc, char** argv) {
  return flowlab::run_guarded(
      "train_vae", [](int c, char** v) { return flowlab::train_command(c, v, "vae"); }, argc, argv);
}
