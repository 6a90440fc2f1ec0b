// generate_samples: sample a trained checkpoint into grids and PNGs (see --help).
#include "flowlab/cli/commands.h"
#include "flowlab/error.h"

int main(int argc, char** argv) {
  return flowlab::run_guarded("generate_samples", flowlab::generate_command, argc, argv);
}
