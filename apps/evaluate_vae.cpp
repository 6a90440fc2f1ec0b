// evaluate_vae: how well an autoencoder reconstructs held-out images (see --help).
#include "flowlab/cli/commands.h"
#include "flowlab/error.h"

int main(int argc, char** argv) {
  return flowlab::run_guarded("evaluate_vae", flowlab::evaluate_vae_command, argc, argv);
}
