// train_cfm: train a conditional flow-matching model (see --help).
#include "flowlab/cli/commands.h"
#include "flowlab/error.h"

int main(int argc, char** argv) {
  return flowlab::run_guarded(
      "train_cfm", [](int c, char** v) { return flowlab::train_command(c, v, "cfm"); }, argc, argv);
}
