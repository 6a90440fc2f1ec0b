// encode_latents: encode a dataset once through an autoencoder (see --help).
#include "flowlab/cli/commands.h"
#include "flowlab/error.h"

int main(int argc, char** argv) {
  return flowlab::run_guarded("encode_latents", flowlab::encode_latents_command, argc, argv);
}
