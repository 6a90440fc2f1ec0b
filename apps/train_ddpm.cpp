// train_ddpm: train a DDPM model (see --help).
#include "flowlab/cli/commands.h"
#include "flowlab/error.h"

int main(int argc, char** argv) {
  return flowlab::run_guarded(
      "train_ddpm", [](int c, char** v) { return flowlab::train_command(c, v, "ddpm"); }, argc, argv);
}
